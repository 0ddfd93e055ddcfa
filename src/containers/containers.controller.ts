import { Body, Controller, Get, Headers, Param, Patch, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Audit } from '../audit/audit.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import type { Page } from '../common/pagination.js';
import {
  ContainerLimitsChangeModel,
  ContainerModel,
  ContainerPageModel,
  ContainerSecurityModel,
  ContainerStatsModel,
  ContainerTopModel,
  type ContainerWithStatsModel,
} from './container.models.js';
import { ContainersService } from './containers.service.js';
import { ContainerChanges, type ContainerChangeAnswer } from './container-changes.js';
import { ChangeRoute } from '../changes/change.interceptor.js';
import { ApiChangeParams, parseDryRun } from '../changes/change-params.js';
import { parseIfMatch } from '../changes/limits-version.js';
import { ContainerLimitsBody, ContainerListQuery } from './dto/container.dto.js';
import { ApiErrors } from '../docs/api-errors.decorator.js';

@ApiTags('containers')
@Controller('v1/containers')
export class ContainersController {
  constructor(
    private readonly containers: ContainersService,
    private readonly changes: ContainerChanges,
  ) {}

  @Get()
  @Allow('viewer')
  @ApiErrors('ENGINE_UNAVAILABLE', 'INVALID_CURSOR')
  @ApiOperation({ summary: "The Docker Engine's containers, and other runtimes' found by cgroup path; ?stats=true adds each one's stats" })
  @ApiOkResponse({ type: ContainerPageModel })
  list(@Query() query: ContainerListQuery): Promise<Page<ContainerWithStatsModel> & { stale: boolean }> {
    return this.containers.list(query);
  }

  @Get(':idOrName')
  @Allow('viewer')
  @ApiErrors('CONTAINER_NOT_FOUND', 'CONTAINER_AMBIGUOUS', 'ENGINE_UNAVAILABLE')
  @ApiOperation({ summary: 'One container (id, unique id prefix of 4+ hex digits, or name), and which namespaces it shares with whom' })
  @ApiOkResponse({ type: ContainerModel })
  async one(@Param('idOrName') idOrName: string): Promise<ContainerModel> {
    const view = await this.containers.get(idOrName);
    const version = this.changes.readVersion(await this.containers.indexed(view.id));
    return version === null ? view : { ...view, limitsVersion: version };
  }

  @Get(':idOrName/top')
  @Allow('viewer')
  @ApiErrors('CONTAINER_NOT_FOUND', 'CONTAINER_AMBIGUOUS', 'ENGINE_UNAVAILABLE', 'CONFLICT', 'PROCESS_NOT_FOUND')
  @ApiOperation({ summary: "Its processes from procfs (host pid, pid inside, ppid, user, command) and init's parent chain" })
  @ApiOkResponse({ type: ContainerTopModel })
  top(@Param('idOrName') idOrName: string): Promise<ContainerTopModel> {
    return this.containers.top(idOrName);
  }

  @Get(':idOrName/stats')
  @Allow('viewer')
  @ApiErrors('CONTAINER_NOT_FOUND', 'CONTAINER_AMBIGUOUS', 'ENGINE_UNAVAILABLE', 'CONFLICT')
  @ApiOperation({
    summary: "Memory, cpu percent, pids, block and network I/O from the cgroup files and /proc, without Docker's one-second wait",
    description:
      "What `docker stats` shows, by its names: MEM USAGE is `memory.workingSet` (usage minus inactive file), LIMIT is `memory.limit` (the host's memory when null), MEM % is `memory.percent`, CPU % is `cpu.percent`, NET I/O is `network.rxBytes` / `network.txBytes`, BLOCK I/O is `blkio`, PIDS is `pids.current`. `memory.usage` is the cgroup's whole usage, page cache included.",
  })
  @ApiOkResponse({ type: ContainerStatsModel })
  stats(@Param('idOrName') idOrName: string): Promise<ContainerStatsModel> {
    return this.containers.stats(idOrName);
  }

  @Get(':idOrName/security')
  @Allow('viewer')
  @ApiErrors('CONTAINER_NOT_FOUND', 'CONTAINER_AMBIGUOUS', 'ENGINE_UNAVAILABLE', 'CONFLICT', 'PROCESS_NOT_FOUND', 'KERNEL_PERMISSION_DENIED')
  @ApiOperation({ summary: "Its init process's security posture, with findings (privileged, extra capabilities, seccomp off, host namespaces, engine socket, ...)" })
  @ApiOkResponse({ type: ContainerSecurityModel })
  security(@Param('idOrName') idOrName: string): Promise<ContainerSecurityModel> {
    return this.containers.security(idOrName);
  }

  @Patch(':idOrName/limits')
  @Allow('operator')
  @ApiErrors('CONTAINER_NOT_FOUND', 'CONTAINER_AMBIGUOUS', 'ENGINE_UNAVAILABLE', 'CONFLICT', 'LIMIT_INVALID', 'LIMIT_BELOW_USAGE', 'ENGINE_REJECTED', 'CGROUP_GONE', 'KERNEL_PERMISSION_DENIED')
  @Audit('container.limits', (i) => `container:${String(i.params.idOrName)}`)
  @ChangeRoute()
  @ApiOperation({ summary: 'Memory, memory+swap, cpus, cpu shares, pids through the engine (docker inspect agrees), read back from the kernel; answers the new version (also as ETag) and the engine fields sent' })
  @ApiChangeParams()
  @ApiOkResponse({ type: ContainerLimitsChangeModel })
  limits(@Param('idOrName') idOrName: string, @Body() body: ContainerLimitsBody, @Headers('if-match') ifMatch?: string, @Query('dryRun') dryRun?: string): Promise<ContainerChangeAnswer> {
    return this.changes.apply(idOrName, body, { ifVersion: parseIfMatch(ifMatch), dryRun: parseDryRun(dryRun) });
  }
}
