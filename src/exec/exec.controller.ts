import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Audit } from '../audit/audit.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import { abortOnClientGone } from '../common/abort.js';
import { type Page, PageQuery, paginate } from '../common/pagination.js';
import { PidPipe } from '../common/pid.pipe.js';
import { ExecBody, SandboxBody } from './dto/exec.dto.js';
import { ExecResultModel, SandboxDetailModel, SandboxListModel } from './exec.models.js';
import { execOutcome, ExecService } from './exec.service.js';
import { ApiErrors } from '../docs/api-errors.decorator.js';

type Reply = Parameters<typeof abortOnClientGone>[0];

/** Admin only: the role belongs to the action (entering namespaces), whatever the method. */
@ApiTags('exec')
@Controller('v1')
export class ExecController {
  constructor(private readonly exec: ExecService) {}

  @Post('processes/:pid/exec')
  @HttpCode(200)
  @Allow('admin')
  @ApiErrors('PROCESS_NOT_FOUND', 'EXEC_UNAVAILABLE', 'EXEC_QUEUE_FULL', 'EXEC_CONFINEMENT_UNAVAILABLE', 'PROCESS_GONE', 'KERNEL_PERMISSION_DENIED')
  @Audit('process.exec', (i) => `process:${String(i.params.pid)}`, undefined, execOutcome)
  @ApiOperation({
    summary: "Run argv (no shell) in a process's namespaces with the process's own confinement; the target is pinned so a reused pid is never entered",
    description: "By default the command gets the target's ids, capabilities, no_new_privs, LSM label, seccomp filters, rlimits, oom_score_adj and cgroups (409 EXEC_CONFINEMENT_UNAVAILABLE when a part cannot be reproduced). privileged: true is host root with every capability (nsenter): dangerous, the command is looked up in the target's file system. The answer's confinement says which applied.",
  })
  @ApiOkResponse({ type: ExecResultModel })
  inProcess(@Param('pid', PidPipe) pid: number, @Body() body: ExecBody, @Res({ passthrough: true }) reply: Reply): Promise<ExecResultModel> {
    return this.exec.execInProcess(pid, body, abortOnClientGone(reply));
  }

  @Post('containers/:idOrName/exec')
  @HttpCode(200)
  @Allow('admin')
  @ApiErrors('CONTAINER_NOT_FOUND', 'CONTAINER_AMBIGUOUS', 'ENGINE_UNAVAILABLE', 'CONFLICT', 'EXEC_UNAVAILABLE', 'EXEC_QUEUE_FULL', 'EXEC_CONFINEMENT_UNAVAILABLE', 'PROCESS_GONE', 'KERNEL_PERMISSION_DENIED')
  @Audit('container.exec', (i) => `container:${String(i.params.idOrName)}`, undefined, execOutcome)
  @ApiOperation({
    summary: "Run argv in a container's init process's namespaces (by default every one it does not share with the host) with its confinement, like docker exec",
    description: "The command gets the container init's ids, capabilities, no_new_privs, LSM label, seccomp filters, rlimits, oom_score_adj and cgroups, and starts from the container's configured environment. privileged: true is host root with every capability (nsenter): dangerous, a program the container planted where the command is found runs as host root.",
  })
  @ApiOkResponse({ type: ExecResultModel })
  inContainer(@Param('idOrName') idOrName: string, @Body() body: ExecBody, @Res({ passthrough: true }) reply: Reply): Promise<ExecResultModel> {
    return this.exec.execInContainer(idOrName, body, abortOnClientGone(reply));
  }

  @Post('sandboxes')
  @HttpCode(201)
  @Allow('admin')
  @ApiErrors('EXEC_UNAVAILABLE', 'CONFLICT', 'LIMIT_INVALID', 'CONTROLLER_UNAVAILABLE', 'KERNEL_PERMISSION_DENIED')
  @Audit('sandbox.create', () => 'sandbox:new', undefined, (r) => ({ id: (r as SandboxDetailModel).id, pid: (r as SandboxDetailModel).pid, cgroupPath: (r as SandboxDetailModel).cgroupPath }))
  @ApiOperation({ summary: "The tutorial's unshare: new namespaces, /proc for its pid namespace, a cgroup with limits, no capabilities, no_new_privs" })
  @ApiCreatedResponse({ type: SandboxDetailModel })
  create(@Body() body: SandboxBody): Promise<SandboxDetailModel> {
    return this.exec.createSandbox(body);
  }

  @Get('sandboxes')
  @Allow('admin')
  @ApiErrors('INVALID_CURSOR')
  @ApiOperation({ summary: 'Sandboxes: state, exit, output, stats' })
  @ApiOkResponse({ type: SandboxListModel })
  list(@Query() query: PageQuery): Page<SandboxDetailModel> {
    return paginate(this.exec.listSandboxes(), query.limit, query.cursor);
  }

  @Get('sandboxes/:id')
  @Allow('admin')
  @ApiErrors('NOT_FOUND')
  @ApiOperation({ summary: 'One sandbox: state, exit, output, stats' })
  @ApiOkResponse({ type: SandboxDetailModel })
  one(@Param('id') id: string): SandboxDetailModel {
    return this.exec.getSandbox(id);
  }

  @Delete('sandboxes/:id')
  @Allow('admin')
  @ApiErrors('NOT_FOUND', 'CGROUP_BUSY')
  @Audit('sandbox.delete', (i) => `sandbox:${String(i.params.id)}`, undefined, (r) => ({ state: (r as SandboxDetailModel).state, exitCode: (r as SandboxDetailModel).exitCode }))
  @ApiOperation({ summary: 'Kill it and remove its cgroup' })
  @ApiOkResponse({ type: SandboxDetailModel })
  remove(@Param('id') id: string): Promise<SandboxDetailModel> {
    return this.exec.deleteSandbox(id);
  }
}
