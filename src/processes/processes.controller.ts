import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Audit } from '../audit/audit.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import type { Caller } from '../auth/roles.js';
import { CurrentCaller } from '../common/caller.decorator.js';
import type { Page } from '../common/pagination.js';
import { PidPipe } from '../common/pid.pipe.js';
import { EnvironQuery, ProcessListQuery } from './dto/process-list.query.js';
import { EnvironmentModel, ProcessDetailModel, type ProcessModel, ProcessPageModel } from './process.models.js';
import { ProcessesService } from './processes.service.js';
import { ApiErrors } from '../docs/api-errors.decorator.js';

@ApiTags('processes')
@Controller('v1/processes')
export class ProcessesController {
  constructor(private readonly processes: ProcessesService) {}

  @Get()
  @Allow('viewer')
  @ApiErrors('CONTAINER_NOT_FOUND', 'CONTAINER_AMBIGUOUS', 'ENGINE_UNAVAILABLE', 'INVALID_CURSOR')
  @ApiOperation({ summary: 'Every process: ids, user, command, start time, namespace inodes, cgroups, container; filters by container, namespace, cgroup' })
  @ApiOkResponse({ type: ProcessPageModel })
  list(@Query() query: ProcessListQuery): Promise<Page<ProcessModel>> {
    return this.processes.list(query);
  }

  @Get(':pid')
  @Allow('viewer')
  @ApiErrors('PROCESS_NOT_FOUND', 'KERNEL_PERMISSION_DENIED')
  @ApiOperation({ summary: 'One process, with status details and its ancestors up to pid 1' })
  @ApiOkResponse({ type: ProcessDetailModel })
  one(@Param('pid', PidPipe) pid: number): ProcessDetailModel {
    return this.processes.detail(pid);
  }

  @Get(':pid/environ')
  @Allow('viewer', { 'process.environ.reveal': 'admin' })
  @ApiErrors('PROCESS_NOT_FOUND', 'KERNEL_PERMISSION_DENIED')
  @Audit('process.environ.reveal', (i) => `process:${String(i.params.pid)}`, (i) => i.query.reveal === 'true')
  @ApiOperation({ summary: 'Environment keys; values only for admins with ?reveal=true (audited, values never logged)' })
  @ApiOkResponse({ type: EnvironmentModel })
  environ(@Param('pid', PidPipe) pid: number, @Query() query: EnvironQuery, @CurrentCaller() caller: Caller): EnvironmentModel {
    return this.processes.environ(pid, query.reveal === 'true', caller);
  }
}
