import { ApiParam } from '@nestjs/swagger';
import type { ErrorCode } from '../kernel/errors.js';

/**
 * The `{path}` parameter of every `/v1/cgroups/:path...` route (this module's and the history and
 * pressure routes served under it by other modules). It is one URL segment to generated clients
 * (`nsgate%2Fbatch`) and several to curl (`nsgate/batch`): rewriteCgroupUrl (cgroup-route.ts)
 * makes both reach these routes.
 */
export const PathParam = () =>
  ApiParam({
    name: 'path',
    description:
      'the cgroup path as /proc/PID/cgroup writes it, without the leading slash: `nsgate/batch` ' +
      '(its slashes may be sent as they are or percent-encoded as `nsgate%2Fbatch`)',
    example: 'nsgate/batch',
    schema: { type: 'string', minLength: 1, maxLength: 4096 },
  });

/** What every route that names a cgroup can answer from the path alone. */
export const PATH_ERRORS = ['CGROUP_PATH_INVALID', 'CGROUP_NOT_FOUND', 'CGROUP_GONE', 'CONTROLLER_UNAVAILABLE', 'KERNEL_PERMISSION_DENIED'] as const satisfies readonly ErrorCode[];
