import { Module } from '@nestjs/common';
import { SecurityController } from './security.controller.js';
import { ProcessSecurityResolver, SecurityResolver } from './security.resolver.js';
import { SecurityService } from './security.service.js';

@Module({ controllers: [SecurityController], providers: [SecurityService, SecurityResolver, ProcessSecurityResolver], exports: [SecurityService] })
export class SecurityModule {}
