import { Module } from '@nestjs/common';
import { HostController } from './host.controller.js';
import { HostResolver } from './host.resolver.js';
import { HostService } from './host.service.js';

@Module({ controllers: [HostController], providers: [HostService, HostResolver] })
export class HostModule {}
