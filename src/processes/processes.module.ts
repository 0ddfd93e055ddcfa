import { Module } from '@nestjs/common';
import { ProcessesController } from './processes.controller.js';
import { ProcessesResolver } from './processes.resolver.js';
import { ProcessesService } from './processes.service.js';

@Module({ controllers: [ProcessesController], providers: [ProcessesService, ProcessesResolver], exports: [ProcessesService] })
export class ProcessesModule {}
