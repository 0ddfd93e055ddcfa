import { Global, Module } from '@nestjs/common';
import { LeasesController } from './leases.controller.js';
import { LeasesResolver } from './leases.resolver.js';
import { LeasesService } from './leases.service.js';

/** Leases (ttlSeconds on a limit change): global, so the cgroups and containers services can hold and restore them. */
@Global()
@Module({
  controllers: [LeasesController],
  providers: [LeasesService, LeasesResolver],
  exports: [LeasesService],
})
export class LeasesModule {}
