import { Module } from '@nestjs/common';
import { CgroupsModule } from '../cgroups/cgroups.module.js';
import { ContainersModule } from '../containers/containers.module.js';
import { CgroupHistoryController, HistoryController } from './history.controller.js';
import { CgroupHistoryResolver, ContainerHistoryResolver } from './history.resolver.js';
import { HistoryService } from './history.service.js';

@Module({
  imports: [CgroupsModule, ContainersModule],
  controllers: [HistoryController, CgroupHistoryController],
  providers: [HistoryService, CgroupHistoryResolver, ContainerHistoryResolver],
  exports: [HistoryService],
})
export class HistoryModule {}
