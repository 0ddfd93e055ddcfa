import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Audit } from '../audit/audit.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import type { Caller } from '../auth/roles.js';
import { CurrentCaller, CurrentRequestId } from '../common/caller.decorator.js';
import { changeOptionsOf } from '../common/change-options.js';
import { ApiErrors } from '../docs/api-errors.decorator.js';
import type { CgroupInfo } from '../kernel/cgroups/system.js';
import { NsgateError } from '../kernel/errors.js';
import { CgroupActionModel, CgroupModel, CgroupPageModel, LimitsChangeModel } from './cgroup.models.js';
import { PATH_ERRORS, PathParam } from './cgroup-path.docs.js';
import { auditTarget, cgroupPathOf } from './cgroup-route.js';
import { CgroupsService } from './cgroups.service.js';
import { CgroupChanges, type CgroupChangeAnswer } from './cgroup-changes.js';
import { ChangeRoute } from '../changes/change.interceptor.js';
import { ApiChangeParams, IfMatch, parseDryRun } from '../changes/change-params.js';
import { limitsVersion, parseIfMatch } from '../changes/limits-version.js';
import { CgroupListQuery } from './dto/cgroup-list.query.js';
import { CreateCgroupBody, MoveProcessBody, SetLimitsBody } from './dto/limits.input.js';

/** ...and what a change to one can answer besides. */
const CHANGE_ERRORS = [...PATH_ERRORS, 'CGROUP_NOT_MANAGED', 'CGROUP_MOUNT_CROSSED', 'CGROUP_BUSY', 'KERNEL_BUSY', 'KERNEL_INVALID_ARGUMENT'] as const;

@ApiTags('cgroups')
@Controller('v1/cgroups')
export class CgroupsController {
  constructor(
    private readonly cgroups: CgroupsService,
    private readonly changes: CgroupChanges,
  ) {}

  @Get()
  @Allow('viewer')
  @ApiErrors('CGROUP_PATH_INVALID', 'CGROUP_NOT_FOUND', 'INVALID_CURSOR')
  @ApiOperation({ summary: 'The cgroup tree (?under=&depth=), each node with its controllers and process count' })
  @ApiOkResponse({ type: CgroupPageModel })
  list(@Query() query: CgroupListQuery): CgroupPageModel {
    return this.cgroups.list(query);
  }

  @Get(':path')
  @Allow('viewer')
  @PathParam()
  @ApiErrors(...PATH_ERRORS)
  @ApiOperation({ summary: 'One cgroup: limits, usage and stats (memory, cpu, pids, io, PSI), processes, freezer state' })
  @ApiOkResponse({ type: CgroupModel })
  get(@Param('path') path: string): CgroupInfo & { limitsVersion: string } {
    const info = this.cgroups.get(cgroupPathOf(path));
    return { ...info, limitsVersion: limitsVersion(info.limits) };
  }

  @Put(':path')
  @Allow('operator')
  @Audit('cgroup.create', auditTarget)
  @PathParam()
  @ApiErrors(...CHANGE_ERRORS, 'CGROUP_EXISTS', 'LIMIT_INVALID')
  @ApiOperation({ summary: 'Create a managed cgroup in every hierarchy, with optional limits (all or nothing)' })
  @ApiBody({ type: CreateCgroupBody, required: false })
  @ApiOkResponse({ type: CgroupModel })
  create(@Param('path') path: string, @Body() body: CreateCgroupBody): Promise<CgroupInfo> {
    return this.cgroups.create(cgroupPathOf(path), body.limits);
  }

  @Delete(':path')
  @Allow('operator')
  @Audit('cgroup.delete', auditTarget)
  @PathParam()
  @ApiErrors(...CHANGE_ERRORS, 'CGROUP_NOT_EMPTY')
  @ApiOperation({ summary: 'Remove a managed cgroup (409 CGROUP_NOT_EMPTY while it has processes or children)' })
  @ApiOkResponse({ type: CgroupActionModel })
  remove(@Param('path') path: string): Promise<CgroupActionModel> {
    return this.cgroups.delete(cgroupPathOf(path));
  }

  @Patch(':path/-/limits')
  @Allow('operator')
  @Audit('cgroup.limits', auditTarget)
  @ChangeRoute()
  @PathParam()
  @ApiErrors(...CHANGE_ERRORS, 'LIMIT_INVALID', 'LIMIT_BELOW_USAGE', 'CONFLICT', 'PRECONDITION_FAILED', 'IDEMPOTENCY_KEY_REUSED')
  @ApiOperation({ summary: 'Change limits; answers {before, after} as the kernel reads them back, the new version (also as ETag) and the writes made' })
  @ApiChangeParams()
  @ApiBody({ type: SetLimitsBody })
  @ApiOkResponse({ type: LimitsChangeModel })
  limits(
    @Param('path') path: string,
    @Body() body: SetLimitsBody,
    @CurrentRequestId() requestId: string,
    @IfMatch() ifVersion: ReturnType<typeof parseIfMatch>,
    @Query('dryRun') dryRun?: string,
  ): Promise<CgroupChangeAnswer> {
    const { force, strategy, timeoutMs, ttlSeconds, ...limits } = body;
    return this.changes.apply(cgroupPathOf(path), limits, {
      ...changeOptionsOf({ strategy, timeoutMs, ttlSeconds }),
      force: force ?? false,
      ifVersion,
      dryRun: parseDryRun(dryRun),
      requestId,
    });
  }

  @Post(':path/-/processes')
  @HttpCode(200)
  @Allow('operator')
  @Audit('cgroup.processes', auditTarget)
  @PathParam()
  @ApiErrors(...CHANGE_ERRORS, 'PROCESS_NOT_FOUND', 'PROCESS_GONE', 'PROCESS_PROTECTED', 'KERNEL_THREAD')
  @ApiOperation({
    summary: 'Move a process in',
    description:
      'A process moves only from managed cgroups (in every hierarchy) unless the caller is admin. Never moved, whoever asks: ' +
      "pid 1 of nsgate's pid namespace, kernel threads, nsgate itself and its helpers (403 PROCESS_PROTECTED). A zombie is 410 PROCESS_GONE.",
  })
  @ApiBody({ type: MoveProcessBody })
  @ApiOkResponse({ type: CgroupActionModel })
  move(@Param('path') path: string, @Body() body: unknown, @CurrentCaller() caller: Caller): Promise<CgroupActionModel> {
    return this.cgroups.move(cgroupPathOf(path), moveBody(body), caller);
  }

  @Post(':path/-/freeze')
  @HttpCode(200)
  @Allow('operator')
  @Audit('cgroup.freeze', auditTarget)
  @PathParam()
  @ApiErrors(...CHANGE_ERRORS, 'CONFLICT', 'PROCESS_PROTECTED')
  @ApiOperation({ summary: 'Freeze every process of the cgroup and below (no body); refused while it holds a protected process' })
  @ApiOkResponse({ type: CgroupActionModel })
  freeze(@Param('path') path: string): Promise<CgroupActionModel> {
    return this.cgroups.freeze(cgroupPathOf(path));
  }

  @Post(':path/-/thaw')
  @HttpCode(200)
  @Allow('operator')
  @Audit('cgroup.thaw', auditTarget)
  @PathParam()
  @ApiErrors(...CHANGE_ERRORS)
  @ApiOperation({ summary: 'Thaw a frozen cgroup (no body)' })
  @ApiOkResponse({ type: CgroupActionModel })
  thaw(@Param('path') path: string): Promise<CgroupActionModel> {
    return this.cgroups.thaw(cgroupPathOf(path));
  }

  @Post(':path/-/kill')
  @HttpCode(200)
  @Allow('admin')
  @Audit('cgroup.kill', auditTarget)
  @PathParam()
  @ApiErrors(...CHANGE_ERRORS, 'PROCESS_PROTECTED', 'LIMIT_INVALID')
  @ApiOperation({ summary: 'SIGKILL every process of the cgroup and below (no body); refused while it holds a protected process' })
  @ApiOkResponse({ type: CgroupActionModel })
  kill(@Param('path') path: string): Promise<CgroupActionModel> {
    return this.cgroups.kill(cgroupPathOf(path));
  }
}

/** Only {"pid": n}: the answer names the one process moved, so nothing else is taken. */
function moveBody(body: unknown): number {
  const b = body as Record<string, unknown> | null;
  const keys = b && typeof b === 'object' ? Object.keys(b) : [];
  if (!b || keys.length !== 1 || keys[0] !== 'pid' || typeof b.pid !== 'number' || !Number.isSafeInteger(b.pid) || b.pid < 1 || b.pid > 4_194_304) {
    throw new NsgateError('VALIDATION_FAILED', 'body must be {"pid": <a pid>}', { body: keys });
  }
  return b.pid;
}
