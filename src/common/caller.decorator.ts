import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Caller } from '../auth/roles.js';
import { requestIdOf, requestOf } from './request-context.js';

/** The authenticated caller of a REST route or GraphQL field. */
export const CurrentCaller = createParamDecorator((_: unknown, context: ExecutionContext): Caller => requestOf(context).caller!);

/** The request's id (x-request-id or the one nsgate gave it): what the audit log files the call under. */
export const CurrentRequestId = createParamDecorator((_: unknown, context: ExecutionContext): string => requestIdOf(requestOf(context)));
