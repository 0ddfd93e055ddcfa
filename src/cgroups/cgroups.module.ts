import { Module } from '@nestjs/common';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import { CgroupSystem } from '../kernel/cgroups/system.js';
import { ProcessesModule } from '../processes/processes.module.js';
import { CgroupsController } from './cgroups.controller.js';
import { CgroupsResolver } from './cgroups.resolver.js';
import { CgroupsService } from './cgroups.service.js';
import { CgroupChanges } from './cgroup-changes.js';

@Module({
  imports: [ProcessesModule],
  controllers: [CgroupsController],
  providers: [
    { provide: CgroupSystem, inject: [CONFIG], useFactory: (config: Config) => CgroupSystem.fromHost({ managed: config.managedCgroups, procRoot: config.procRoot }) },
    CgroupsService,
    CgroupsResolver,
    CgroupChanges,
  ],
  exports: [CgroupsService, CgroupSystem, CgroupChanges],
})
export class CgroupsModule {}
