import { type ExecutionContext, Injectable } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { NsgateRequest } from '../common/request-context.js';
import { ROLE_KEY } from './auth.decorator.js';

const headerSink = { header: () => headerSink };

/**
 * Nest's throttler, one budget per caller (by token name, else by address) shared by REST,
 * GraphQL over HTTP (each root field counts), and GraphQL subscriptions (each start counts;
 * a WebSocket has no reply to carry rate-limit headers, so those go to a sink).
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

  /** One budget per caller across every route and field, not one per handler. */
  protected override generateKey(_context: ExecutionContext, suffix: string, name: string): string {
    return `${name}:${suffix}`;
  }

  /** Public routes are not counted; in GraphQL only root fields count, not every nested field a query resolves. */
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    // health checks answer probes, however often they come
    if (this.reflector.getAllAndOverride<string | undefined>(ROLE_KEY, [context.getHandler(), context.getClass()]) === 'public') return true;
    if (context.getType<string>() !== 'graphql') return false;
    const parent = GqlExecutionContext.create(context).getInfo<{ parentType: { name: string } }>().parentType.name;
    return parent !== 'Query' && parent !== 'Mutation' && parent !== 'Subscription';
  }

  protected override async getTracker(req: Record<string, any>): Promise<string> {
    const caller = (req as NsgateRequest).caller;
    return caller ? `caller:${caller.name}` : `ip:${String(req.ip ?? 'unknown')}`;
  }
}
