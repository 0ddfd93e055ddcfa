import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Caller } from '../auth/roles.js';
import { requestOf } from './request-context.js';

/** The authenticated caller of a REST route or GraphQL field. */
export const CurrentCaller = createParamDecorator((_: unknown, context: ExecutionContext): Caller => requestOf(context).caller!);
