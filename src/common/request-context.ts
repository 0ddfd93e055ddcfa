import type { ExecutionContext } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';
import type { Caller } from '../auth/roles.js';

/** The parts of a request the guard, audit and logs need, for REST and GraphQL alike. */
export interface NsgateRequest {
  id?: string | number;
  /** The client address (Fastify: the socket peer, or what trustProxy allows). */
  ip?: string;
  headers: Record<string, string | string[] | undefined>;
  caller?: Caller;
  params?: Record<string, unknown>;
  query?: Record<string, unknown>;
  body?: unknown;
}

/** What a handler was asked, normalized across transports for audit targets. */
export interface HandlerInput {
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  body: unknown;
  args: Record<string, unknown>;
}

export function requestOf(context: ExecutionContext): NsgateRequest {
  if (context.getType<string>() === 'graphql') {
    return GqlExecutionContext.create(context).getContext<{ req: NsgateRequest }>().req;
  }
  return context.switchToHttp().getRequest<NsgateRequest>();
}

export function inputOf(context: ExecutionContext): HandlerInput {
  if (context.getType<string>() === 'graphql') {
    const args = GqlExecutionContext.create(context).getArgs<Record<string, unknown>>();
    return { params: {}, query: {}, body: args, args };
  }
  const req = context.switchToHttp().getRequest<NsgateRequest>();
  return { params: req.params ?? {}, query: req.query ?? {}, body: req.body, args: {} };
}

export function isGraphql(context: ExecutionContext): boolean {
  return context.getType<string>() === 'graphql';
}

export function requestIdOf(req: NsgateRequest | undefined): string {
  return req?.id !== undefined ? String(req.id) : 'unknown';
}
