import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor, UseInterceptors } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';
import { defer, lastValueFrom, type Observable } from 'rxjs';
import { markAuditAs } from '../audit/audit-as.js';
import { isGraphql, requestOf } from '../common/request-context.js';
import { etagOf } from './limits-version.js';
import { IdempotencyStore } from './idempotency-store.js';

interface ReplyLike {
  header(name: string, value: string): unknown;
}

/**
 * What every limits change route shares, REST and GraphQL alike: the Idempotency-Key (REST
 * header, GraphQL `idempotencyKey` argument) replays the first answer; a dry run is audited as
 * one and never kept under a key; a REST answer carries the new limits version as its ETag.
 * Runs inside the audit interceptor, so a replay is audited (as `<action>.replay`) too.
 */
@Injectable()
export class ChangeInterceptor implements NestInterceptor {
  constructor(private readonly store: IdempotencyStore) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = requestOf(context);
    const gql = isGraphql(context);
    const args = gql ? GqlExecutionContext.create(context).getArgs<Record<string, unknown>>() : {};
    const query = (req.query ?? {}) as Record<string, unknown>;
    const dryRun = gql ? args.dryRun === true : query.dryRun === 'true' || query.dryRun === true;
    const rawKey = gql ? args.idempotencyKey : req.headers['idempotency-key'];
    const key = typeof rawKey === 'string' ? rawKey : Array.isArray(rawKey) ? rawKey.join(',') : undefined;
    const reply = gql ? undefined : context.switchToHttp().getResponse<ReplyLike>();

    const run = async (): Promise<unknown> => {
      const handle = () => lastValueFrom(next.handle());
      let answer: unknown;
      let replayed = false;
      if (key === undefined || dryRun) {
        answer = await handle();
      } else {
        const { idempotencyKey: _key, ...rest } = args;
        const scope = gql
          ? `${req.caller?.name ?? '?'}\ngraphql:${GqlExecutionContext.create(context).getInfo<{ fieldName: string }>().fieldName}`
          : `${req.caller?.name ?? '?'}\n${(req as { method?: string }).method ?? ''} ${String((req as { url?: string }).url ?? '').split('?')[0]}`;
        const body = gql ? rest : { body: req.body ?? null, query };
        ({ answer, replayed } = await this.store.once(scope, key, body, handle));
      }
      if (dryRun) markAuditAs(answer, 'dry-run');
      if (replayed) {
        markAuditAs(answer, 'replay');
        reply?.header('idempotent-replayed', 'true');
      }
      const version = (answer as { version?: unknown } | null)?.version;
      if (reply && typeof version === 'string') reply.header('etag', etagOf(version));
      return answer;
    };
    // on subscription, like the handler itself: nothing runs before the audit's received line is on disk
    return defer(run);
  }
}

/** Marks a limits change handler (see ChangeInterceptor). */
export const ChangeRoute = () => UseInterceptors(ChangeInterceptor);
