import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, concatMap, from, type Observable, switchMap } from 'rxjs';
import { toNsgateError } from '../common/errors.js';
import { inputOf, requestIdOf, requestOf } from '../common/request-context.js';
import { actionOf, AUDIT_KEY, type AuditSpec, safeTarget } from './audit.decorator.js';
import { AuditService } from './audit.service.js';

/**
 * Two stages, like Kubernetes' RequestReceived and ResponseComplete: a "received" line is
 * on disk before the handler acts, a "completed" line (with before/after and result) is on
 * disk before the response is sent. A crash in between leaves the first as a trace.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly audit: AuditService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const spec = this.reflector.get<AuditSpec | undefined>(AUDIT_KEY, context.getHandler());
    if (!spec) return next.handle();
    const input = inputOf(context);
    if (spec.when && !spec.when(input)) return next.handle();
    const req = requestOf(context);
    const base = {
      requestId: requestIdOf(req),
      caller: req.caller ?? null,
      action: actionOf(spec, input),
      target: safeTarget(spec, input),
    };
    return from(this.audit.record({ ...base, stage: 'received', result: 'allowed', request: input.body ?? null })).pipe(
      switchMap(() => next.handle()),
      concatMap(async (response: unknown) => {
        const change = response as { before?: unknown; after?: unknown } | null;
        await this.audit.record({
          ...base,
          stage: 'completed',
          result: 'ok',
          request: input.body ?? null,
          before: change && typeof change === 'object' && 'before' in change ? change.before : null,
          after: spec.outcome ? spec.outcome(response) : change && typeof change === 'object' && 'after' in change ? change.after : null,
        });
        return response;
      }),
      catchError(async (err: unknown) => {
        const mapped = toNsgateError(err);
        await this.audit.record({ ...base, stage: 'completed', result: 'failed', errorCode: mapped.code, request: input.body ?? null, ...beforeOf(mapped.details) });
        throw err;
      }),
    );
  }
}

function beforeOf(details: Record<string, unknown> | undefined): { before?: unknown } {
  return details && 'before' in details ? { before: details.before } : {};
}
