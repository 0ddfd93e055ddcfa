import { Module } from '@nestjs/common';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import { ContainersModule } from '../containers/containers.module.js';
import { CgroupSystem } from '../kernel/cgroups/system.js';
import { NamespaceExecutor } from '../kernel/exec/index.js';
import { SandboxManager } from '../kernel/sandbox/index.js';
import { ExecController } from './exec.controller.js';
import { ExecResolver } from './exec.resolver.js';
import { ExecService } from './exec.service.js';

/** nsgate's own cgroups (per-exec and per-sandbox) live under NSGATE_INTERNAL_CGROUP, managed by nsgate alone. */
const INTERNAL_CGROUPS = Symbol('nsgate.internalCgroups');

@Module({
  imports: [ContainersModule],
  controllers: [ExecController],
  providers: [
    { provide: INTERNAL_CGROUPS, inject: [CONFIG], useFactory: (config: Config) => CgroupSystem.fromHost({ managed: [config.internalCgroup], procRoot: config.procRoot }) },
    { provide: NamespaceExecutor, inject: [CONFIG, INTERNAL_CGROUPS], useFactory: (config: Config, cgroups: CgroupSystem) => new NamespaceExecutor({ cgroups, cgroupParent: `${config.internalCgroup}/exec`, procRoot: config.procRoot }) },
    { provide: SandboxManager, inject: [CONFIG, INTERNAL_CGROUPS], useFactory: (config: Config, cgroups: CgroupSystem) => new SandboxManager({ cgroups, parent: `${config.internalCgroup}/sandboxes`, procRoot: config.procRoot }) },
    ExecService,
    ExecResolver,
  ],
})
export class ExecModule {}
