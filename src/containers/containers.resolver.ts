import { Args, Context, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { Audit } from '../audit/audit.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import { CgroupModel } from '../cgroups/cgroup.models.js';
import { CgroupsService } from '../cgroups/cgroups.service.js';
import type { Page } from '../common/pagination.js';
import { perRequest } from '../common/request-cache.js';
import type { NsgateRequest } from '../common/request-context.js';
import { listCost, pageCost } from '../graphql/query-cost.js';
import type { CgroupInfo } from '../kernel/cgroups/system.js';
import { NsgateError } from '../kernel/errors.js';
import type { NamespaceType } from '../kernel/procfs/namespace-types.js';
import { NamespaceModel } from '../namespaces/namespace.models.js';
import { ProcessModel } from '../processes/process.models.js';
import { ProcessesService, requestReads } from '../processes/processes.service.js';
import { ContainerLimitsChangeModel, ContainerModel, ContainerPageGqlModel, ContainerSecurityModel, ContainerStatsModel, ContainerTopModel } from './container.models.js';
import { ContainersService } from './containers.service.js';
import { ContainerChanges, type ContainerChangeAnswer } from './container-changes.js';
import { ChangeRoute } from '../changes/change.interceptor.js';
import { parseIfMatch } from '../changes/limits-version.js';
import { ContainerLimitsBody, ContainerListQuery } from './dto/container.dto.js';

function everyContainer(req: NsgateRequest, service: ContainersService): Promise<ContainerModel[]> {
  return perRequest(req, 'containers', () => service.all());
}

@Resolver(() => ContainerModel)
export class ContainersResolver {
  constructor(
    private readonly service: ContainersService,
    private readonly processService: ProcessesService,
    private readonly cgroupService: CgroupsService,
    private readonly changes: ContainerChanges,
  ) {}

  @Query(() => ContainerPageGqlModel, { complexity: pageCost('containers') })
  @Allow('viewer')
  containers(@Args() query: ContainerListQuery): Promise<Page<ContainerModel> & { stale: boolean }> {
    return this.service.list({ ...query, stats: false });
  }

  @Query(() => ContainerModel, { description: 'id, unique id prefix or name' })
  @Allow('viewer')
  container(@Args('id') id: string): Promise<ContainerModel> {
    return this.service.get(id);
  }

  @ResolveField(() => [ProcessModel], { complexity: listCost(100) })
  @Allow('viewer')
  async processes(@Parent() container: ContainerModel, @Context('req') req: NsgateRequest): Promise<ProcessModel[]> {
    if (container.pid === null) return [];
    const top = await this.service.top(container.id);
    return this.processService.existing(top.processes.map((p) => p.pid), requestReads(req));
  }

  @ResolveField(() => CgroupModel, { nullable: true, description: 'its own cgroup' })
  @Allow('viewer')
  cgroup(@Parent() container: ContainerModel): CgroupInfo | null {
    if (!container.cgroupPath) return null;
    try {
      return this.cgroupService.get(container.cgroupPath);
    } catch (err) {
      if (err instanceof NsgateError && err.code === 'CGROUP_NOT_FOUND') return null;
      throw err;
    }
  }

  @ResolveField(() => [ContainerModel], {
    description:
      "the containers it shares a namespace with, other than the host's own (on a host without user namespaces every container is in the host's user namespace: that says nothing about these two)",
    complexity: listCost(20),
  })
  @Allow('viewer')
  async sharesWith(@Parent() container: ContainerModel, @Context('req') req: NsgateRequest): Promise<ContainerModel[]> {
    const ids = new Set(container.sharedNamespaces.filter((s) => !s.with.includes('host')).flatMap((s) => s.with));
    return (await everyContainer(req, this.service)).filter((c) => ids.has(c.id));
  }

  @ResolveField(() => ContainerStatsModel, { nullable: true })
  @Allow('viewer')
  async stats(@Parent() container: ContainerModel): Promise<ContainerStatsModel | null> {
    return container.pid === null ? null : this.service.stats(container.id);
  }

  @ResolveField(() => ContainerTopModel, { nullable: true })
  @Allow('viewer')
  async top(@Parent() container: ContainerModel): Promise<ContainerTopModel | null> {
    return container.pid === null ? null : this.service.top(container.id);
  }

  @ResolveField(() => ContainerSecurityModel, { nullable: true })
  @Allow('viewer')
  async security(@Parent() container: ContainerModel): Promise<ContainerSecurityModel | null> {
    return container.pid === null ? null : this.service.security(container.id);
  }

  @Mutation(() => ContainerLimitsChangeModel, {
    description: 'Through the engine, as docker update; read back from the kernel (ifVersion: precondition; dryRun: plan and preflight only; idempotencyKey: replay the first answer)',
  })
  @Allow('operator')
  @Audit('container.limits', (i) => `container:${String(i.args.id)}`)
  @ChangeRoute()
  updateContainerLimits(
    @Args('id') id: string,
    @Args('limits') limits: ContainerLimitsBody,
    @Args('ifVersion', { nullable: true, type: () => String, description: 'change only if the limits version is still this one; "*" = any' }) ifVersion?: string,
    @Args('dryRun', { nullable: true, type: () => Boolean, description: 'answer the plan and the preflight; write nothing' }) dryRun?: boolean,
    @Args('idempotencyKey', { nullable: true, type: () => String, description: 'replays the first answer of the same key and arguments within 24 h' }) _idempotencyKey?: string,
  ): Promise<ContainerChangeAnswer> {
    return this.changes.apply(id, limits, { ifVersion: parseIfMatch(ifVersion), dryRun: dryRun ?? false });
  }

  @ResolveField(() => String, { nullable: true, description: "the version of its limits (the engine's and the kernel's values): give it as ifVersion; null for other runtimes' containers" })
  @Allow('viewer')
  async limitsVersion(@Parent() container: ContainerModel): Promise<string | null> {
    return this.changes.readVersion(await this.service.indexed(container.id));
  }
}

/** The edge namespace → containers, contributed to the Namespace type from here. */
@Resolver(() => NamespaceModel)
export class NamespaceContainersResolver {
  constructor(private readonly service: ContainersService) {}

  @ResolveField(() => [ContainerModel], { description: 'the containers whose init process is in it' })
  @Allow('viewer')
  async containers(@Parent() namespace: NamespaceModel, @Context('req') req: NsgateRequest): Promise<ContainerModel[]> {
    return (await everyContainer(req, this.service)).filter((c) => c.namespaces?.[namespace.type as NamespaceType] === namespace.inode);
  }
}
