import { Global, Module } from '@nestjs/common';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import { DockerEngine } from '../kernel/docker/engine.js';

/** The one Docker Engine client of the process. */
@Global()
@Module({
  providers: [{ provide: DockerEngine, inject: [CONFIG], useFactory: (config: Config) => new DockerEngine(config.dockerHost) }],
  exports: [DockerEngine],
})
export class EngineModule {}
