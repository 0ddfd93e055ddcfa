import { Body, Controller, Delete, Get, Param, ParseIntPipe, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Audit } from '../audit/audit.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import type { Caller } from '../auth/roles.js';
import { CurrentCaller } from '../common/caller.decorator.js';
import type { HandlerInput } from '../common/request-context.js';
import { PressureTriggerBody, PressureTriggerListModel, PressureTriggerModel } from './pressure.models.js';
import { MAX_TRIGGERS_PER_CALLER, PressureService } from './pressure.service.js';

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
  @ApiOperation({
    summary: `Register a PSI threshold on a cgroup or running container ({cgroup|container, resource, kind, stallUs, windowUs}); each firing is a pressure.threshold event (GET /v1/events); at most ${MAX_TRIGGERS_PER_CALLER} per caller`,
    description:
      "Armed as the kernel's own trigger (mode kernel) where the kernel takes it; otherwise nsgate reads the PSI totals once a second with the same rule (mode polling, modeReason says why). In memory: triggers end with nsgate.",
  })
  @ApiOkResponse({ type: PressureTriggerModel })
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

  @Get(':id')
  @Allow('viewer')
  @ApiOperation({ summary: 'One pressure trigger' })
  @ApiOkResponse({ type: PressureTriggerModel })
  one(@Param('id', ParseIntPipe) id: number): PressureTriggerModel {
    return this.pressure.get(id);
  }

  @Delete(':id')
  @Allow('operator')
  @Audit('pressure.trigger.delete', (i) => `pressure-trigger:${String(i.params.id)}`)
  @ApiOperation({ summary: 'Remove a pressure trigger (its owner, or an admin)' })
  @ApiOkResponse({ type: PressureTriggerModel })
  remove(@CurrentCaller() caller: Caller, @Param('id', ParseIntPipe) id: number): PressureTriggerModel {
    return this.pressure.remove(caller, id);
  }
}
