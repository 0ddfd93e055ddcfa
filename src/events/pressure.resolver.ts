import { Args, Int, Mutation, Query, Resolver } from '@nestjs/graphql';
import { listCost } from '../graphql/query-cost.js';
import { Audit } from '../audit/audit.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import type { Caller } from '../auth/roles.js';
import { CurrentCaller } from '../common/caller.decorator.js';
import { triggerTarget } from './pressure.controller.js';
import { PressureTriggerBody, PressureTriggerModel } from './pressure.models.js';
import { PressureService } from './pressure.service.js';

@Resolver(() => PressureTriggerModel)
export class PressureResolver {
  constructor(private readonly pressure: PressureService) {}

  @Query(() => [PressureTriggerModel], { description: 'Every registered pressure trigger (as GET /v1/pressure-triggers; at most 256)', complexity: listCost(16) })
  @Allow('viewer')
  pressureTriggers(): PressureTriggerModel[] {
    return this.pressure.list();
  }

  @Mutation(() => PressureTriggerModel, { description: 'Register a PSI threshold on a cgroup or running container; each firing is a pressure.threshold event (as POST /v1/pressure-triggers)' })
  @Allow('operator')
  @Audit('pressure.trigger.add', triggerTarget)
  addPressureTrigger(@CurrentCaller() caller: Caller, @Args('input') input: PressureTriggerBody): Promise<PressureTriggerModel> {
    return this.pressure.add(caller, { ...input, cgroup: input.cgroup ?? undefined, container: input.container ?? undefined });
  }

  @Mutation(() => PressureTriggerModel, { description: 'Remove a pressure trigger (its owner, or an admin)' })
  @Allow('operator')
  @Audit('pressure.trigger.delete', (i) => `pressure-trigger:${String(i.args.id)}`)
  deletePressureTrigger(@CurrentCaller() caller: Caller, @Args('id', { type: () => Int }) id: number): PressureTriggerModel {
    return this.pressure.remove(caller, id);
  }
}
