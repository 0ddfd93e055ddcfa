import { Module } from '@nestjs/common';
import { CgroupsModule } from '../cgroups/cgroups.module.js';
import { ProcessesModule } from '../processes/processes.module.js';
import { ContainersController } from './containers.controller.js';
import { ContainersResolver, NamespaceContainersResolver } from './containers.resolver.js';
import { ContainersService } from './containers.service.js';
import { ContainerChanges } from './container-changes.js';
import { ContainerDrift } from './container-drift.js';
import { ContainerIndex } from './container-index.js';
import { ContainerMetrics } from './container-metrics.js';
import { ContainerStats } from './container-stats.js';
import { ContainerViews } from './container-views.js';

@Module({
  imports: [ProcessesModule, CgroupsModule],
  controllers: [ContainersController],
  providers: [ContainerIndex, ContainerDrift, ContainerViews, ContainerStats, ContainerMetrics, ContainersService, ContainersResolver, NamespaceContainersResolver, ContainerChanges],
  exports: [ContainersService, ContainerChanges, ContainerIndex],
})
export class ContainersModule {}
