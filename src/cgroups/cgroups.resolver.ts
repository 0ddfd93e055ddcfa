import { Args, Context, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { Audit } from '../audit/audit.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import type { Caller } from '../auth/roles.js';
import { CurrentCaller } from '../common/caller.decorator.js';
import type { NsgateRequest } from '../common/request-context.js';
import { listCost, pageCost } from '../graphql/query-cost.js';
import type { CgroupInfo } from '../kernel/cgroups/system.js';
import { ChangeRoute } from '../changes/change.interceptor.js';
import { limitsVersion, parseIfMatch } from '../changes/limits-version.js';
import { CgroupChanges, type CgroupChangeAnswer } from './cgroup-changes.js';
import { ProcessModel } from '../processes/process.models.js';
import { ProcessesService, requestReads } from '../processes/processes.service.js';
import { CgroupActionModel, CgroupModel, CgroupPageModel, LimitsChangeModel } from './cgroup.models.js';
import { auditTarget } from './cgroup-route.js';
import { CgroupsService } from './cgroups.service.js';
import { CgroupListQuery } from './dto/cgroup-list.query.js';
import { CgroupPathArgs, CreateCgroupArgs, MoveProcessArgs, SetLimitsArgs } from './dto/limits.input.js';

@Resolver(() => CgroupModel)
export class CgroupsResolver {
  constructor(
    private readonly service: CgroupsService,
    private readonly processService: ProcessesService,
    private readonly changes: CgroupChanges,
  ) {}

  @Query(() => CgroupPageModel, { description: 'The cgroup tree', complexity: pageCost() })
  @Allow('viewer')
  cgroups(@Args() query: CgroupListQuery): CgroupPageModel {
    return this.service.list(query);
  }

  @Query(() => CgroupModel, { description: 'One cgroup: limits, stats, processes' })
  @Allow('viewer')
  cgroup(@Args() { path }: CgroupPathArgs): CgroupInfo {
    return this.service.get(path);
  }

  @ResolveField(() => [ProcessModel], { description: 'its processes, read now', complexity: listCost(100) })
  @Allow('viewer')
  processes(@Parent() cgroup: CgroupInfo, @Context('req') req: NsgateRequest): ProcessModel[] {
    return this.processService.existing(cgroup.processes, requestReads(req));
  }

  @Mutation(() => LimitsChangeModel, { description: 'Change limits; before and after as the kernel reads them back, the new version and the writes (ifVersion: precondition; dryRun: plan and preflight only; idempotencyKey: replay the first answer)' })
  @Allow('operator')
  @Audit('cgroup.limits', auditTarget)
  @ChangeRoute()
  setCgroupLimits(@Args() args: SetLimitsArgs): Promise<CgroupChangeAnswer> {
    return this.changes.apply(args.path, stripNulls(args.limits), { force: args.force ?? false, ifVersion: parseIfMatch(args.ifVersion), dryRun: args.dryRun ?? false });
  }

  @ResolveField(() => String, { description: 'the version of its limits (a hash of what the kernel holds): give it as ifVersion to change them only if they did not move' })
  @Allow('viewer')
  limitsVersion(@Parent() cgroup: CgroupInfo): string {
    return limitsVersion(cgroup.limits);
  }

  @Mutation(() => CgroupModel, { description: 'Create a managed cgroup with optional limits' })
  @Allow('operator')
  @Audit('cgroup.create', auditTarget)
  createCgroup(@Args() args: CreateCgroupArgs): Promise<CgroupInfo> {
    return this.service.create(args.path, args.limits === undefined ? undefined : stripNulls(args.limits));
  }

  @Mutation(() => CgroupActionModel)
  @Allow('operator')
  @Audit('cgroup.delete', auditTarget)
  deleteCgroup(@Args() { path }: CgroupPathArgs): Promise<CgroupActionModel> {
    return this.service.delete(path);
  }

  @Mutation(() => CgroupActionModel)
  @Allow('operator')
  @Audit('cgroup.processes', auditTarget)
  moveProcess(@Args() args: MoveProcessArgs, @CurrentCaller() caller: Caller): Promise<CgroupActionModel> {
    return this.service.move(args.path, args.pid, caller);
  }

  @Mutation(() => CgroupActionModel)
  @Allow('operator')
  @Audit('cgroup.freeze', auditTarget)
  freezeCgroup(@Args() { path }: CgroupPathArgs): Promise<CgroupActionModel> {
    return this.service.freeze(path);
  }

  @Mutation(() => CgroupActionModel)
  @Allow('operator')
  @Audit('cgroup.thaw', auditTarget)
  thawCgroup(@Args() { path }: CgroupPathArgs): Promise<CgroupActionModel> {
    return this.service.thaw(path);
  }

  @Mutation(() => CgroupActionModel, { description: 'Kill every process of the cgroup and below (admin)' })
  @Allow('admin')
  @Audit('cgroup.kill', auditTarget)
  killCgroup(@Args() { path }: CgroupPathArgs): Promise<CgroupActionModel> {
    return this.service.kill(path);
  }
}

/** GraphQL hands absent input fields over as undefined but explicit nulls as null: both mean "leave it". */
export function stripNulls(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, stripNulls(v)]));
}
