import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { GqlContextType } from '@nestjs/graphql';
import { GraphQLError } from 'graphql';
import { NsgateError } from '../kernel/errors.js';
import { errorBody, statusOf, toNsgateError } from './errors.js';
import { routeTableOf } from './route-table.js';

interface Reply {
  status(code: number): Reply;
  header(name: string, value: string): Reply;
  send(body: unknown): void;
}

/** One error shape for REST and GraphQL; internals never leave the process. */
@Catch()
export class GlobalExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('errors');

  catch(exception: unknown, host: ArgumentsHost): unknown {
    const graphql = host.getType<GqlContextType>() === 'graphql';
    const err = graphql ? toNsgateError(exception) : this.methodNotAllowed(toNsgateError(exception), host);
    const status = statusOf(err.code);
    if (status >= 500 && err.code === 'INTERNAL') this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    if (graphql) {
      return new GraphQLError(err.message, {
        extensions: { code: err.code, status, ...(err.details ? { details: err.details } : {}) },
      });
    }
    const reply = host.switchToHttp().getResponse<Reply>();
    if (err.code === 'METHOD_NOT_ALLOWED') reply.header('allow', (err.details!.allowed as string[]).join(', '));
    // RFC 6750: a refused bearer token says which scheme is expected, and why
    if (status === 401) reply.header('www-authenticate', err.message === 'unknown token' ? 'Bearer realm="nsgate", error="invalid_token"' : 'Bearer realm="nsgate"');
    reply.status(status).header('content-type', 'application/json; charset=utf-8').send(errorBody(err));
    return undefined;
  }

  /** A path served under other methods is 405 with the methods it has (RFC 9110 15.5.6), not 404. */
  private methodNotAllowed(err: NsgateError, host: ArgumentsHost): NsgateError {
    if (err.code !== 'ROUTE_NOT_FOUND') return err;
    const request = host.switchToHttp().getRequest<{ method: string; url: string; server?: object }>();
    if (!request.server) return err;
    const allowed = routeTableOf(request.server).methodsFor(request.url);
    if (allowed.length === 0 || allowed.includes(request.method)) return err;
    return new NsgateError('METHOD_NOT_ALLOWED', `${request.method} is not served here; this path takes ${allowed.join(', ')}`, { allowed });
  }

}
