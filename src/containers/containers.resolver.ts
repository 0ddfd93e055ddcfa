import { Args, Context, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { Audit } from '../audit/audit.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import { CgroupModel } from '../cgroups/cgroup.models.js';
import { CgroupsService } from '../cgroups/cgroups.service.js';
import type { Page } from '../common/pagination.js';
import { perRequest } from '../common/request-cache.js';
import type { NsgateRequest } from '../common/request-context.js';
import type { CgroupInfo } from '../kernel/cgroups/system.js';
import { NsgateError } from '../kernel/errors.js';
import type { NamespaceType } from '../kernel/procfs/namespace-types.js';
import { NamespaceModel } from '../namespaces/namespace.models.js';
import { ProcessModel } from '../processes/process.models.js';
import { ProcessesService } from '../processes/processes.service.js';
import { ContainerLimitsChangeModel, ContainerModel, ContainerReconcileModel, ContainerPageGqlModel, ContainerSecurityModel, ContainerStatsModel, ContainerTopModel } from './container.models.js';
import { ContainersService } from './containers.service.js';
import { CurrentRequestId } from '../common/caller.decorator.js';
import { ChangeOptionsArgs, changeOptionsOf } from '../common/change-options.js';
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
  ) {}

  @Query(() => ContainerPageGqlModel, { complexity: ({ args, childComplexity }) => ((args.limit as number | undefined) ?? 500) * childComplexity })
  @Allow('viewer')
  containers(@Args() query: ContainerListQuery): Promise<Page<ContainerModel> & { stale: boolean }> {
    return this.service.list({ ...query, stats: false });
  }

  @Query(() => ContainerModel, { description: 'id, unique id prefix or name' })
  @Allow('viewer')
  container(@Args('id') id: string): Promise<ContainerModel> {
    return this.service.get(id);
  }

  @ResolveField(() => [ProcessModel], { complexity: ({ childComplexity }) => 100 * childComplexity })
  @Allow('viewer')
  async processes(@Parent() container: ContainerModel): Promise<ProcessModel[]> {
    if (container.pid === null) return [];
    const top = await this.service.top(container.id);
    return this.processService.existing(top.processes.map((p) => p.pid));
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

  @ResolveField(() => [ContainerModel], { description: 'the containers it shares any namespace with', complexity: ({ childComplexity }) => 20 * childComplexity })
  @Allow('viewer')
  async sharesWith(@Parent() container: ContainerModel, @Context('req') req: NsgateRequest): Promise<ContainerModel[]> {
    const ids = new Set(container.sharedNamespaces.flatMap((s) => s.with).filter((id) => id !== 'host'));
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

  @Mutation(() => ContainerLimitsChangeModel, { description: 'Through the engine, as docker update; read back from the kernel' })
  @Allow('operator')
  @Audit('container.limits', (i) => `container:${String(i.args.id)}`)
  updateContainerLimits(
    @Args('id') id: string,
    @Args('limits') limits: ContainerLimitsBody,
    @Args() options: ChangeOptionsArgs,
    @CurrentRequestId() requestId: string,
  ): Promise<ContainerLimitsChangeModel> {
    return this.service.updateLimits(id, limits, { ...changeOptionsOf(options), requestId });
  }

  @Mutation(() => ContainerReconcileModel, { description: "Put the engine's limits back into the kernel where they drifted (see Container.drift)" })
  @Allow('operator')
  @Audit('container.reconcile', (i) => `container:${String(i.args.id)}`)
  reconcileContainerLimits(@Args('id') id: string): Promise<ContainerReconcileModel> {
    return this.service.reconcileLimits(id);
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
