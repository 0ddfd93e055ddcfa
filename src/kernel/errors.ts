/**
 * Domain errors of nsgate. Framework-free: the kernel layer and the services throw these,
 * and only the HTTP/GraphQL edge (src/common/errors) turns a code into a status.
 */
export const ErrorCodes = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'VALIDATION_FAILED',
  'NOT_FOUND',
  'ROUTE_NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'PROCESS_NOT_FOUND',
  'PROCESS_GONE',
  'NAMESPACE_NOT_FOUND',
  'CGROUP_NOT_FOUND',
  'CGROUP_GONE',
  'CGROUP_NOT_MANAGED',
  'CGROUP_PATH_INVALID',
  'CGROUP_BUSY',
  'CGROUP_EXISTS',
  'CGROUP_NOT_EMPTY',
  'LIMIT_INVALID',
  'LIMIT_BELOW_USAGE',
  'CONTROLLER_UNAVAILABLE',
  'CONTAINER_NOT_FOUND',
  'CONTAINER_AMBIGUOUS',
  'ENGINE_UNAVAILABLE',
  'ENGINE_REJECTED',
  'KERNEL_THREAD',
  'PROCESS_PROTECTED',
  'AUDIT_UNAVAILABLE',
  'EXEC_UNAVAILABLE',
  'EXEC_QUEUE_FULL',
  'EXEC_CONFINEMENT_UNAVAILABLE',
  'KERNEL_PERMISSION_DENIED',
  'KERNEL_BUSY',
  'KERNEL_INVALID_ARGUMENT',
  'PAYLOAD_TOO_LARGE',
  'URI_TOO_LONG',
  'HEADERS_TOO_LARGE',
  'REQUEST_TIMEOUT',
  'CGROUP_MOUNT_CROSSED',
  'RATE_LIMITED',
  'QUERY_TOO_COMPLEX',
  'CONFLICT',
  'PRECONDITION_FAILED',
  'IDEMPOTENCY_KEY_REUSED',
  'UNSUPPORTED_MEDIA_TYPE',
  'ROLE_NOT_DECLARED',
  'INVALID_CURSOR',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ErrorCodes)[number];

export class NsgateError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'NsgateError';
  }
}

/** The errno codes a Node fs/child_process error carries, as nsgate's codes. */
export function errnoToCode(errno: string | undefined): ErrorCode | undefined {
  switch (errno) {
    case 'ENOENT':
    case 'ESRCH':
      return 'NOT_FOUND';
    case 'EACCES':
    case 'EPERM':
      return 'KERNEL_PERMISSION_DENIED';
    case 'EBUSY':
      return 'KERNEL_BUSY';
    case 'EINVAL':
    case 'ERANGE':
      return 'KERNEL_INVALID_ARGUMENT';
    default:
      return undefined;
  }
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}
