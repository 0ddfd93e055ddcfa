import { Module } from '@nestjs/common';
import { CgroupsModule } from '../cgroups/cgroups.module.js';
import { ProcessesModule } from '../processes/processes.module.js';
import { ContainersController } from './containers.controller.js';
import { ContainersResolver, NamespaceContainersResolver } from './containers.resolver.js';
import { ContainersService } from './containers.service.js';

@Module({
  imports: [ProcessesModule, CgroupsModule],
  controllers: [ContainersController],
  providers: [ContainersService, ContainersResolver, NamespaceContainersResolver],
  exports: [ContainersService],
})
export class ContainersModule {}
