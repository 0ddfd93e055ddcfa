import { Global, Module } from '@nestjs/common';
import { type Config, loadConfig } from './config.js';

/** Injection token of the validated configuration. */
export const CONFIG = Symbol('nsgate.config');

@Global()
@Module({})
export class ConfigModule {
  /** The configuration is read once, before the app is built, so a bad value stops start-up. */
  static register(config: Config = loadConfig()) {
    return {
      module: ConfigModule,
      providers: [{ provide: CONFIG, useValue: config }],
      exports: [CONFIG],
    };
  }
}
