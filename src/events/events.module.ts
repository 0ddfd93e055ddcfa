import { Module } from '@nestjs/common';
import { CgroupsModule } from '../cgroups/cgroups.module.js';
import { ContainersModule } from '../containers/containers.module.js';
import { HistoryModule } from '../history/history.module.js';
import { EventsController } from './events.controller.js';
import { EventsResolver } from './events.resolver.js';
import { EventsService } from './events.service.js';
import { CgroupPressureController, PressureController } from './pressure.controller.js';
import { PressureResolver } from './pressure.resolver.js';
import { PressureService } from './pressure.service.js';

/** GET /v1/events (SSE) and the GraphQL subscriptions `events` and `containerStats`. */
@Module({
  imports: [CgroupsModule, ContainersModule, HistoryModule],
  controllers: [EventsController, PressureController, CgroupPressureController],
  providers: [EventsService, EventsResolver, PressureService, PressureResolver],
  exports: [EventsService],
})
export class EventsModule {}
