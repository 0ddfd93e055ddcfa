import { HttpException, HttpStatus } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import { InvalidCursorError } from '../audit/audit-log.js';
import { type ErrorCode, errnoToCode, NsgateError } from '../kernel/errors.js';

/** The HTTP status of each code. Exhaustive: a new code does not compile until it has one. */
export function statusOf(code: ErrorCode): number {
  switch (code) {
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
    case 'ROLE_NOT_DECLARED':
    case 'CGROUP_NOT_MANAGED':
    case 'CGROUP_MOUNT_CROSSED':
    case 'PROCESS_PROTECTED':
    case 'KERNEL_PERMISSION_DENIED':
      return 403;
    case 'NOT_FOUND':
    case 'ROUTE_NOT_FOUND':
    case 'PROCESS_NOT_FOUND':
    case 'NAMESPACE_NOT_FOUND':
    case 'CGROUP_NOT_FOUND':
    case 'CONTAINER_NOT_FOUND':
      return 404;
    case 'VALIDATION_FAILED':
    case 'CGROUP_PATH_INVALID':
    case 'CONTAINER_AMBIGUOUS':
    case 'QUERY_TOO_COMPLEX':
    case 'INVALID_CURSOR':
      return 400;
    case 'CGROUP_BUSY':
    case 'CGROUP_EXISTS':
    case 'CGROUP_NOT_EMPTY':
    case 'LIMIT_BELOW_USAGE':
    case 'KERNEL_BUSY':
    case 'KERNEL_THREAD':
    case 'EXEC_CONFINEMENT_UNAVAILABLE':
    case 'CONFLICT':
      return 409;
    case 'PROCESS_GONE':
    case 'CGROUP_GONE':
      return 410;
    case 'METHOD_NOT_ALLOWED':
      return 405;
    case 'PRECONDITION_FAILED':
      return 412;
    case 'REQUEST_TIMEOUT':
      return 408;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'URI_TOO_LONG':
      return 414;
    case 'HEADERS_TOO_LARGE':
      return 431;
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 415;
    case 'LIMIT_INVALID':
    case 'KERNEL_INVALID_ARGUMENT':
    case 'CONTROLLER_UNAVAILABLE':
    case 'ENGINE_REJECTED':
    case 'IDEMPOTENCY_KEY_REUSED':
      return 422;
    case 'RATE_LIMITED':
    case 'EXEC_QUEUE_FULL':
      return 429;
    case 'ENGINE_UNAVAILABLE':
    case 'AUDIT_UNAVAILABLE':
    case 'EXEC_UNAVAILABLE':
      return 503;
    case 'INTERNAL':
      return 500;
  }
}

const HTTP_STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'ROUTE_NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

/**
 * Any error as an NsgateError: ours pass through; framework, Fastify and errno errors are
 * mapped; everything else becomes INTERNAL with a generic message (the original is logged,
 * never sent).
 */
export function toNsgateError(err: unknown): NsgateError {
  if (err instanceof NsgateError) return err;
  if (err instanceof InvalidCursorError) return new NsgateError('INVALID_CURSOR', err.message);
  if (err instanceof ThrottlerException) return new NsgateError('RATE_LIMITED', 'too many requests; slow down');
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const code = HTTP_STATUS_CODES[status];
    if (code) {
      const response = err.getResponse();
      const message = typeof response === 'object' && response && 'message' in response ? String((response as { message: unknown }).message) : err.message;
      return new NsgateError(code, status === 404 ? 'no such route' : message);
    }
  }
  const fastify = err as { statusCode?: number; code?: string; message?: string };
  if (typeof fastify?.statusCode === 'number' && typeof fastify.code === 'string' && fastify.code.startsWith('FST_')) {
    const code = HTTP_STATUS_CODES[fastify.statusCode];
    if (code) return new NsgateError(code, fastify.message ?? 'bad request');
  }
  const errno = errnoToCode((err as NodeJS.ErrnoException)?.code);
  if (errno) return new NsgateError(errno, kernelMessage(err as NodeJS.ErrnoException));
  return new NsgateError('INTERNAL', 'internal error; see the service log');
}

function kernelMessage(err: NodeJS.ErrnoException): string {
  return `the kernel refused: ${err.code}${err.syscall ? ` (${err.syscall})` : ''}`;
}

/** The body of every REST error. */
export function errorBody(err: NsgateError): { error: { code: string; message: string; details?: Record<string, unknown> } } {
  return { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } };
}

export { HttpStatus };
