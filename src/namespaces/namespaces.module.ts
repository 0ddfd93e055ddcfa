import { Module } from '@nestjs/common';
import { ProcessesModule } from '../processes/processes.module.js';
import { NamespacesController } from './namespaces.controller.js';
import { NamespacesResolver, ProcessNamespacesResolver } from './namespaces.resolver.js';
import { NamespacesService } from './namespaces.service.js';

@Module({
  imports: [ProcessesModule],
  controllers: [NamespacesController],
  providers: [NamespacesService, NamespacesResolver, ProcessNamespacesResolver],
  exports: [NamespacesService],
})
export class NamespacesModule {}
