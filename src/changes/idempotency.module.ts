import { Global, Module } from '@nestjs/common';
import { ChangeInterceptor } from './change.interceptor.js';
import { IdempotencyStore } from './idempotency-store.js';

/** The store of first answers, shared by every change route (cgroups, containers, batches). */
@Global()
@Module({
  providers: [IdempotencyStore, ChangeInterceptor],
  exports: [IdempotencyStore, ChangeInterceptor],
})
export class IdempotencyModule {}
