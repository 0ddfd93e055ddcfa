import { type ExecutionContext, Injectable } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { NsgateRequest } from '../common/request-context.js';

const headerSink = { header: () => headerSink };

/**
 * Nest's throttler, per caller (by token name, else by address), for REST, GraphQL over
 * HTTP, and GraphQL subscriptions (each subscription start counts; a WebSocket has no
 * reply to carry rate-limit headers, so those go to a sink).
 */
@Injectable()
export class NsgateThrottlerGuard extends ThrottlerGuard {
  protected override getRequestResponse(context: ExecutionContext): { req: Record<string, any>; res: Record<string, any> } {
    if (context.getType<string>() === 'graphql') {
      const ctx = GqlExecutionContext.create(context).getContext<{ req: NsgateRequest; reply?: Record<string, any> }>();
      return { req: ctx.req as Record<string, any>, res: ctx.reply ?? headerSink };
    }
    return super.getRequestResponse(context);
  }

  protected override async getTracker(req: Record<string, any>): Promise<string> {
    const caller = (req as NsgateRequest).caller;
    return caller ? `caller:${caller.name}` : `ip:${String(req.ip ?? 'unknown')}`;
  }
}
