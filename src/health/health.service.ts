import { Inject, Injectable } from '@nestjs/common';
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import { readCgroupMounts } from '../kernel/cgroups/mounts.js';
import { DockerEngine } from '../kernel/docker/engine.js';
import { AuditService } from '../audit/audit.service.js';

export interface DependencyCheck {
  status: 'ok' | 'failed' | 'unavailable';
  required: boolean;
  detail: string;
}

export interface Readiness {
  status: 'ready' | 'not ready';
  checks: Record<'procfs' | 'cgroupfs' | 'stateDir' | 'audit' | 'docker', DependencyCheck>;
}

@Injectable()
export class HealthService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly engine: DockerEngine,
    private readonly audit: AuditService,
  ) {}

  async readiness(): Promise<Readiness> {
    const [procfs, cgroupfs, stateDir, docker] = await Promise.all([this.procfs(), this.cgroupfs(), this.stateDir(), this.docker()]);
    const checks = { procfs, cgroupfs, stateDir, audit: this.auditLog(), docker };
    const ready = Object.values(checks).every((c) => !c.required || c.status === 'ok');
    return { status: ready ? 'ready' : 'not ready', checks };
  }

  private async procfs(): Promise<DependencyCheck> {
    return check(true, async () => {
      await readFile(`${this.config.procRoot}/self/stat`, 'utf8');
      return `${this.config.procRoot} readable`;
    });
  }

  private async cgroupfs(): Promise<DependencyCheck> {
    return check(true, async () => {
      const count = readCgroupMounts(this.config.procRoot).length;
      if (count === 0) throw new Error(`no cgroup filesystem in ${this.config.procRoot}/self/mountinfo`);
      return `${count} cgroup hierarchies mounted`;
    });
  }

  private async stateDir(): Promise<DependencyCheck> {
    return check(true, async () => {
      await access(this.config.dataDir, constants.W_OK);
      return `${this.config.dataDir} writable`;
    });
  }

  /** Changes are refused while the audit log cannot take their lines (disk full): not ready for them. */
  private auditLog(): DependencyCheck {
    const reason = this.audit.unavailable;
    return reason === null
      ? { status: 'ok', required: true, detail: `${this.config.auditFile} takes lines` }
      : { status: 'failed', required: true, detail: `${reason}; changes are refused with 503 AUDIT_UNAVAILABLE until it takes lines again` };
  }

  private async docker(): Promise<DependencyCheck> {
    const status = await this.engine.status();
    return status.status === 'up'
      ? { status: 'ok', required: false, detail: `Docker Engine ${status.version} at ${this.engine.dockerHost}` }
      : { status: 'unavailable', required: false, detail: `${this.engine.dockerHost}: ${status.reason}` };
  }
}

async function check(required: boolean, probe: () => Promise<string>): Promise<DependencyCheck> {
  try {
    return { status: 'ok', required, detail: await probe() };
  } catch (err) {
    return { status: 'failed', required, detail: (err as Error).message };
  }
}
