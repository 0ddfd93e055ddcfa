import { Body, Controller, Delete, Get, Param, ParseIntPipe, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Audit } from '../audit/audit.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import type { Caller } from '../auth/roles.js';
import { CurrentCaller } from '../common/caller.decorator.js';
import type { HandlerInput } from '../common/request-context.js';
import { PathParam } from '../cgroups/cgroup-path.docs.js';
import { cgroupPathOf } from '../cgroups/cgroup-route.js';
import { ApiErrors } from '../docs/api-errors.decorator.js';
import { PressureTriggerBody, PressureTriggerListModel, PressureTriggerModel } from './pressure.models.js';
import { MAX_TRIGGERS_PER_CALLER, PressureService } from './pressure.service.js';

const IdParam = () => ApiParam({ name: 'triggerId', description: 'the id a registration answered', example: 1, schema: { type: 'integer', minimum: 1 } });

/** The audit target of a registration: the container or cgroup it watches (REST body, GraphQL `input`). */
export function triggerTarget(i: HandlerInput): string {
  const b = ((i.args.input ?? i.body) ?? {}) as { container?: unknown; cgroup?: unknown };
  return typeof b.container === 'string' ? `container:${b.container}` : `cgroup:${String(b.cgroup ?? '')}`;
}

@ApiTags('events')
@Controller('v1/pressure-triggers')
export class PressureController {
  constructor(private readonly pressure: PressureService) {}

  @Post()
  @Allow('operator')
  @Audit('pressure.trigger.add', triggerTarget)
  // RATE_LIMITED: the caller (or nsgate) holds the most triggers; CONFLICT: the container is not running
  @ApiErrors('CGROUP_PATH_INVALID', 'CGROUP_NOT_FOUND', 'CGROUP_GONE', 'CONTAINER_NOT_FOUND', 'CONTAINER_AMBIGUOUS', 'ENGINE_UNAVAILABLE', 'CONFLICT', 'CONTROLLER_UNAVAILABLE', 'KERNEL_PERMISSION_DENIED')
  @ApiOperation({
    summary: `Register a PSI threshold on a cgroup or running container ({cgroup|container, resource, kind, stallUs, windowUs}); each firing is a pressure.threshold event (GET /v1/events); at most ${MAX_TRIGGERS_PER_CALLER} per caller`,
    description:
      "Armed as the kernel's own trigger (mode kernel) where the kernel takes it; otherwise nsgate reads the PSI totals once a second with the same rule (mode polling, modeReason says why). In memory: triggers end with nsgate.",
  })
  @ApiCreatedResponse({ type: PressureTriggerModel })
  add(@CurrentCaller() caller: Caller, @Body() body: PressureTriggerBody): Promise<PressureTriggerModel> {
    return this.pressure.add(caller, body);
  }

  @Get()
  @Allow('viewer')
  @ApiOperation({ summary: 'Every registered pressure trigger, with its mode and how often it fired (per cgroup: GET /v1/cgroups/{path}/-/pressure-triggers)' })
  @ApiOkResponse({ type: PressureTriggerListModel })
  list(): PressureTriggerListModel {
    return { items: this.pressure.list() };
  }

  @Get(':triggerId')
  @Allow('viewer')
  @IdParam()
  @ApiErrors('NOT_FOUND')
  @ApiOperation({ summary: 'One pressure trigger' })
  @ApiOkResponse({ type: PressureTriggerModel })
  one(@Param('triggerId', ParseIntPipe) id: number): PressureTriggerModel {
    return this.pressure.get(id);
  }

  @Delete(':triggerId')
  @Allow('operator')
  @Audit('pressure.trigger.delete', (i) => `pressure-trigger:${String(i.params.triggerId)}`)
  @IdParam()
  // FORBIDDEN: another caller's trigger, for an operator
  @ApiErrors('NOT_FOUND', 'FORBIDDEN')
  @ApiOperation({ summary: 'Remove a pressure trigger (its owner, or an admin)' })
  @ApiOkResponse({ type: PressureTriggerModel })
  remove(@CurrentCaller() caller: Caller, @Param('triggerId', ParseIntPipe) id: number): PressureTriggerModel {
    return this.pressure.remove(caller, id);
  }
}

/** The triggers on one cgroup: an action of `/v1/cgroups/{path}` served by this module. */
@ApiTags('cgroups')
@Controller('v1/cgroups')
export class CgroupPressureController {
  constructor(private readonly pressure: PressureService) {}

  @Get(':path/-/pressure-triggers')
  @Allow('viewer')
  @PathParam()
  @ApiErrors('CGROUP_PATH_INVALID')
  @ApiOperation({ summary: 'The pressure triggers registered on this cgroup (on a container: its cgroup); empty when none, also for a cgroup that does not exist' })
  @ApiOkResponse({ type: PressureTriggerListModel })
  listOf(@Param('path') path: string): PressureTriggerListModel {
    return { items: this.pressure.listOf(cgroupPathOf(path)) };
  }
}
