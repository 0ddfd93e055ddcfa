import { Module } from '@nestjs/common';
import { CgroupsModule } from '../cgroups/cgroups.module.js';
import { ContainersModule } from '../containers/containers.module.js';
import { HistoryModule } from '../history/history.module.js';
import { EventsController } from './events.controller.js';
import { EventsResolver } from './events.resolver.js';
import { EventsService } from './events.service.js';

/** GET /v1/events (SSE) and the GraphQL subscriptions `events` and `containerStats`. */
@Module({
  imports: [CgroupsModule, ContainersModule, HistoryModule],
  controllers: [EventsController],
  providers: [EventsService, EventsResolver],
  exports: [EventsService],
})
export class EventsModule {}
