import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Audit } from '../audit/audit.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import type { Page } from '../common/pagination.js';
import {
  ContainerLimitsChangeModel,
  ContainerModel,
  ContainerPageModel,
  ContainerReconcileModel,
  ContainerSecurityModel,
  ContainerStatsModel,
  ContainerTopModel,
  type ContainerWithStatsModel,
} from './container.models.js';
import { ContainersService } from './containers.service.js';
import { CurrentRequestId } from '../common/caller.decorator.js';
import { changeOptionsOf } from '../common/change-options.js';
import { ContainerLimitsPatchBody, ContainerListQuery } from './dto/container.dto.js';

@ApiTags('containers')
@Controller('v1/containers')
export class ContainersController {
  constructor(private readonly containers: ContainersService) {}

  @Get()
  @Allow('viewer')
  @ApiOperation({ summary: "The Docker Engine's containers, and other runtimes' found by cgroup path; ?stats=true adds each one's stats" })
  @ApiOkResponse({ type: ContainerPageModel })
  list(@Query() query: ContainerListQuery): Promise<Page<ContainerWithStatsModel> & { stale: boolean }> {
    return this.containers.list(query);
  }

  @Get(':idOrName')
  @Allow('viewer')
  @ApiOperation({ summary: 'One container (id, unique id prefix of 4+ hex digits, or name), and which namespaces it shares with whom' })
  @ApiOkResponse({ type: ContainerModel })
  one(@Param('idOrName') idOrName: string): Promise<ContainerModel> {
    return this.containers.get(idOrName);
  }

  @Get(':idOrName/top')
  @Allow('viewer')
  @ApiOperation({ summary: "Its processes from procfs (host pid, pid inside, ppid, user, command) and init's parent chain" })
  @ApiOkResponse({ type: ContainerTopModel })
  top(@Param('idOrName') idOrName: string): Promise<ContainerTopModel> {
    return this.containers.top(idOrName);
  }

  @Get(':idOrName/stats')
  @Allow('viewer')
  @ApiOperation({ summary: "Memory, cpu percent, pids and block I/O from the cgroup files, without Docker's one-second wait" })
  @ApiOkResponse({ type: ContainerStatsModel })
  stats(@Param('idOrName') idOrName: string): Promise<ContainerStatsModel> {
    return this.containers.stats(idOrName);
  }

  @Get(':idOrName/security')
  @Allow('viewer')
  @ApiOperation({ summary: "Its init process's security posture, with findings (privileged, extra capabilities, seccomp off, host namespaces, engine socket, ...)" })
  @ApiOkResponse({ type: ContainerSecurityModel })
  security(@Param('idOrName') idOrName: string): Promise<ContainerSecurityModel> {
    return this.containers.security(idOrName);
  }

  @Patch(':idOrName/limits')
  @Allow('operator')
  @Audit('container.limits', (i) => `container:${String(i.params.idOrName)}`)
  @ApiOperation({ summary: 'Memory, memory+swap, cpus, cpu shares, pids through the engine (docker inspect agrees), read back from the kernel' })
  @ApiOkResponse({ type: ContainerLimitsChangeModel })
  limits(@Param('idOrName') idOrName: string, @Body() body: ContainerLimitsPatchBody, @CurrentRequestId() requestId: string): Promise<ContainerLimitsChangeModel> {
    const { strategy, timeoutMs, ttlSeconds, ...limits } = body;
    return this.containers.updateLimits(idOrName, limits, { ...changeOptionsOf({ strategy, timeoutMs, ttlSeconds }), requestId });
  }

  @Post(':idOrName/limits/reconcile')
  @HttpCode(200)
  @Allow('operator')
  @Audit('container.reconcile', (i) => `container:${String(i.params.idOrName)}`)
  @ApiOperation({
    summary: "Put the engine's limits back into the kernel where they drifted (see a container's `drift`)",
    description: "Writes what docker inspect holds into the container's own cgroup, for the drifted fields only; answers the drift found, the kernel's limits before and after, and the engine's. No drift: nothing is written.",
  })
  @ApiOkResponse({ type: ContainerReconcileModel })
  reconcile(@Param('idOrName') idOrName: string): Promise<ContainerReconcileModel> {
    return this.containers.reconcileLimits(idOrName);
  }
}
