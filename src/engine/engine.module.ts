import { Global, Module } from '@nestjs/common';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import { DockerEngine } from '../kernel/docker/engine.js';
import { EngineEvents } from './engine-events.js';

/** The one Docker Engine client of the process, and the one reader of its event stream. */
@Global()
@Module({
  providers: [{ provide: DockerEngine, inject: [CONFIG], useFactory: (config: Config) => new DockerEngine(config.dockerHost) }, EngineEvents],
  exports: [DockerEngine, EngineEvents],
})
export class EngineModule {}
