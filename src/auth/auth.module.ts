import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthGuard } from './auth.guard.js';
import { AuthService } from './auth.service.js';
import { NsgateThrottlerGuard } from './throttle.guard.js';

@Global()
@Module({
  providers: [
    AuthService,
    // in this order: authenticate first, so the throttler counts per caller
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_GUARD, useClass: NsgateThrottlerGuard },
  ],
  exports: [AuthService],
})
export class AuthModule {}
