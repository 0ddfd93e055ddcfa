import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, concatMap, from, type Observable, switchMap } from 'rxjs';
import { toNsgateError } from '../common/errors.js';
import { NsgateError } from '../kernel/errors.js';
import { inputOf, requestIdOf, requestOf } from '../common/request-context.js';
import { auditedAction } from './audit-as.js';
import { actionOf, AUDIT_KEY, type AuditSpec, safeTarget } from './audit.decorator.js';
import { AuditService } from './audit.service.js';

/**
 * Two stages, like Kubernetes' RequestReceived and ResponseComplete: a "received" line is
 * on disk before the handler acts, a "completed" line (with before/after and result) is on
 * disk before the response is sent. A crash in between leaves the first as a trace. When the
 * completed line of a change cannot be written, the change is reverted where it can be (see
 * AuditService.registerReverter) and the answer is 503 AUDIT_UNAVAILABLE.
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
    // Nothing starts unless its received line is on disk; the log refuses new lines at once
    // while it is unavailable (disk full), so nothing starts then either.
    const received = this.audit.record({ ...base, stage: 'received', result: 'allowed', request: input.body ?? null }).catch((err: Error) => {
      throw new NsgateError('AUDIT_UNAVAILABLE', `nothing was changed: ${err.message}`, { action: base.action, target: base.target });
    });
    return from(received).pipe(
      switchMap(() =>
        next.handle().pipe(
          concatMap(async (response: unknown) => {
            const change = response as { before?: unknown; after?: unknown } | null;
            // a dry run or a replayed answer is audited under its own action (see audit-as.ts)
            const action = auditedAction(base.action, response);
            try {
              await this.audit.record(
                {
                  ...base,
                  action,
                  stage: 'completed',
                  result: 'ok',
                  request: input.body ?? null,
                  before: change && typeof change === 'object' && 'before' in change ? change.before : null,
                  after: spec.outcome ? spec.outcome(response) : change && typeof change === 'object' && 'after' in change ? change.after : null,
                },
                'owed',
              );
            } catch (err) {
              // the change is done but cannot be audited: put it back where it can be, and say so
              const reverted = await this.audit.revert(action, response, base.target);
              throw new NsgateError(
                'AUDIT_UNAVAILABLE',
                reverted ? `the change was reverted: ${(err as Error).message}` : `the change was made and could not be reverted; its completed line is missing: ${(err as Error).message}`,
                { action, target: base.target, reverted },
              );
            }
            return response;
          }),
          catchError(async (err: unknown) => {
            if (err instanceof NsgateError && err.code === 'AUDIT_UNAVAILABLE') throw err;
            const mapped = toNsgateError(err);
            // a failed change was undone by its handler; its answer stands even if this line is lost
            await this.audit
              .record({ ...base, stage: 'completed', result: 'failed', errorCode: mapped.code, request: input.body ?? null, ...beforeOf(mapped.details) }, 'owed')
              .catch(() => undefined);
            throw err;
          }),
        ),
      ),
    );
  }
}

function beforeOf(details: Record<string, unknown> | undefined): { before?: unknown } {
  return details && 'before' in details ? { before: details.before } : {};
}
