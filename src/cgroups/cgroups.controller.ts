import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Audit } from '../audit/audit.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import type { Caller } from '../auth/roles.js';
import { CurrentCaller } from '../common/caller.decorator.js';
import type { CgroupInfo, LimitsUpdate } from '../kernel/cgroups/system.js';
import { NsgateError } from '../kernel/errors.js';
import { CgroupActionModel, CgroupModel, CgroupPageModel, LimitsChangeModel } from './cgroup.models.js';
import { auditAction, auditTarget, cgroupPathOf, readActionOf, splitAction } from './cgroup-route.js';
import { CgroupsService } from './cgroups.service.js';
import { CgroupListQuery } from './dto/cgroup-list.query.js';
import { CreateCgroupBody, MoveProcessBody, SetLimitsBody } from './dto/limits.input.js';

const PATH_PARAM = { name: '*', description: 'the cgroup path as /proc/PID/cgroup writes it, without the leading slash; actions follow "/-/"', example: 'nsgate/batch' };

/**
 * Fastify matches a path wildcard only at the end of a route, so each method has one route
 * and the action is read from after the last "/-/" (see cgroup-route.ts).
 */
@ApiTags('cgroups')
@Controller('v1/cgroups')
export class CgroupsController {
  constructor(private readonly cgroups: CgroupsService) {}

  @Get()
  @Allow('viewer')
  @ApiOperation({ summary: 'The cgroup tree (?under=&depth=), each node with its controllers and process count' })
  @ApiOkResponse({ type: CgroupPageModel })
  list(@Query() query: CgroupListQuery): CgroupPageModel {
    return this.cgroups.list(query);
  }

  @Get('*')
  @Allow('viewer')
  @ApiParam(PATH_PARAM)
  @ApiOperation({
    summary: 'One cgroup: limits, usage and stats (memory, cpu, pids, io, PSI), processes, freezer state; {path}/-/history and {path}/-/recommendation',
    description:
      '{path}/-/history?from=10m&step=5s: its usage history (HistoryModel; in memory only, kept for running containers and managed cgroups: 1 s points for 10 minutes, ' +
      '1 min min/avg/max for 24 hours, at most 1500 points). {path}/-/recommendation: memory and cpu limits recommended from that history, with evidence, ' +
      'confidence and reasons (RecommendationModel; never applied by nsgate).',
  })
  @ApiOkResponse({ type: CgroupModel })
  get(@Param('*') rest: string, @Query() query: Record<string, unknown>): unknown {
    const read = readActionOf(rest, this.cgroups.readActionNames());
    if (read) return this.cgroups.readAction(read.path, read.action, query);
    return this.cgroups.get(cgroupPathOf(rest));
  }

  @Put('*')
  @Allow('operator')
  @Audit('cgroup.create', auditTarget)
  @ApiParam(PATH_PARAM)
  @ApiOperation({ summary: 'Create a managed cgroup in every hierarchy, with optional limits (all or nothing)' })
  @ApiOkResponse({ type: CgroupModel })
  create(@Param('*') rest: string, @Body() body: CreateCgroupBody): Promise<CgroupInfo> {
    return this.cgroups.create(cgroupPathOf(rest), body.limits);
  }

  @Delete('*')
  @Allow('operator')
  @Audit('cgroup.delete', auditTarget)
  @ApiParam(PATH_PARAM)
  @ApiOperation({ summary: 'Remove a managed cgroup (409 CGROUP_NOT_EMPTY while it has processes or children)' })
  @ApiOkResponse({ type: CgroupActionModel })
  remove(@Param('*') rest: string): Promise<CgroupActionModel> {
    return this.cgroups.delete(cgroupPathOf(rest));
  }

  @Patch('*')
  @Allow('operator')
  @Audit('cgroup.limits', auditTarget)
  @ApiParam({ ...PATH_PARAM, example: 'nsgate/batch/-/limits' })
  @ApiOperation({ summary: '{path}/-/limits: change limits; answers {before, after} as the kernel reads them back' })
  @ApiBody({ type: SetLimitsBody })
  @ApiOkResponse({ type: LimitsChangeModel })
  patch(@Param('*') rest: string, @Body() body: SetLimitsBody): Promise<LimitsUpdate> {
    const { path } = splitAction(rest, ['limits']);
    const { force, ...limits } = body;
    return this.cgroups.setLimits(path, limits, force ?? false);
  }

  @Post('*')
  @HttpCode(200)
  @Allow('operator', { 'cgroup.kill': 'admin' })
  @Audit(auditAction, auditTarget)
  @ApiParam({ ...PATH_PARAM, example: 'nsgate/batch/-/freeze' })
  @ApiOperation({
    summary: '{path}/-/processes {"pid"}: move a process in; /-/freeze, /-/thaw; /-/kill (admin): every process of the cgroup and below',
    description:
      'A process moves only from managed cgroups (in every hierarchy) unless the caller is admin. Never moved, frozen or killed, whoever asks: ' +
      "pid 1 of nsgate's pid namespace, kernel threads, nsgate itself and its helpers (403 PROCESS_PROTECTED). A zombie is 410 PROCESS_GONE.",
  })
  @ApiBody({ type: MoveProcessBody, required: false, description: 'only for /-/processes' })
  @ApiOkResponse({ type: CgroupActionModel })
  async post(@Param('*') rest: string, @Body() body: unknown, @CurrentCaller() caller: Caller): Promise<CgroupActionModel> {
    const { path, action } = splitAction(rest, ['processes', 'freeze', 'thaw', 'kill']);
    switch (action) {
      case 'processes':
        return this.cgroups.move(path, moveBody(body), caller);
      case 'freeze':
        return this.cgroups.freeze(path);
      case 'thaw':
        return this.cgroups.thaw(path);
      default:
        return this.cgroups.kill(path);
    }
  }
}

/** One POST route serves four actions, so its body is checked here rather than by a DTO. */
function moveBody(body: unknown): number {
  const b = body as Record<string, unknown> | null;
  const keys = b && typeof b === 'object' ? Object.keys(b) : [];
  if (!b || keys.length !== 1 || keys[0] !== 'pid' || typeof b.pid !== 'number' || !Number.isSafeInteger(b.pid) || b.pid < 1 || b.pid > 4_194_304) {
    throw new NsgateError('VALIDATION_FAILED', 'body must be {"pid": <a pid>}', { body: keys });
  }
  return b.pid;
}
