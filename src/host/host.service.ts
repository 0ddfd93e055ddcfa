import { Inject, Injectable } from '@nestjs/common';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import { DockerEngine } from '../kernel/docker/engine.js';
import { readHostFacts } from '../kernel/host.js';
import type { HostModel } from './host.models.js';

@Injectable()
export class HostService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly engine: DockerEngine,
  ) {}

  async host(): Promise<HostModel> {
    const [facts, engine] = await Promise.all([readHostFacts(this.config.procRoot), this.engine.status()]);
    return { ...facts, engine: { status: engine.status, version: engine.version, apiVersion: engine.apiVersion, host: this.engine.dockerHost } };
  }
}
