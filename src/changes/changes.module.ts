import { Module } from '@nestjs/common';
import { CgroupsModule } from '../cgroups/cgroups.module.js';
import { ContainersModule } from '../containers/containers.module.js';
import { ChangesController } from './changes.controller.js';
import { ChangesResolver } from './changes.resolver.js';
import { ChangesService } from './changes.service.js';

/** Batches (POST /v1/changes, applyChanges) over the cgroup and container change pipelines. */
@Module({
  imports: [CgroupsModule, ContainersModule],
  controllers: [ChangesController],
  providers: [ChangesService, ChangesResolver],
})
export class ChangesModule {}
