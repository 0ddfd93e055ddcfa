import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { GqlContextType } from '@nestjs/graphql';
import { GraphQLError } from 'graphql';
import { errorBody, statusOf, toNsgateError } from './errors.js';

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
    const err = toNsgateError(exception);
    const status = statusOf(err.code);
    if (status >= 500 && err.code === 'INTERNAL') this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    if (host.getType<GqlContextType>() === 'graphql') {
      return new GraphQLError(err.message, {
        extensions: { code: err.code, status, ...(err.details ? { details: err.details } : {}) },
      });
    }
    const reply = host.switchToHttp().getResponse<Reply>();
    reply.status(status).header('content-type', 'application/json; charset=utf-8').send(errorBody(err));
    return undefined;
  }
}
