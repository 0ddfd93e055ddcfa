import { Args, Context, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { Allow } from '../auth/auth.decorator.js';
import type { Page } from '../common/pagination.js';
import { perRequest } from '../common/request-cache.js';
import type { NsgateRequest } from '../common/request-context.js';
import { Int64Scalar } from '../common/scalars/int64.scalar.js';
import { NsgateError } from '../kernel/errors.js';
import { NAMESPACE_TYPES, type NamespaceType } from '../kernel/procfs/namespace-types.js';
import type { NamespaceSnapshot } from '../kernel/scan/snapshots.js';
import { listCost, pageCost } from '../graphql/query-cost.js';
import { NamespaceTypeEnum, ProcessModel } from '../processes/process.models.js';
import { requestReads } from '../processes/processes.service.js';
import { NamespaceListQuery } from './dto/namespace.query.js';
import { NamespaceModel, NamespacePageModel } from './namespace.models.js';
import { NamespacesService } from './namespaces.service.js';

function snapshotOf(req: NsgateRequest, namespaces: NamespacesService): Promise<NamespaceSnapshot> {
  return perRequest(req, 'namespaces', () => namespaces.snapshot());
}

@Resolver(() => NamespaceModel)
export class NamespacesResolver {
  constructor(private readonly service: NamespacesService) {}

  @Query(() => NamespacePageModel, {
    description: 'What lsns prints',
    complexity: pageCost(),
  })
  @Allow('viewer')
  namespaces(@Args() query: NamespaceListQuery): Promise<Page<NamespaceModel>> {
    return this.service.list(query);
  }

  @Query(() => NamespaceModel, { description: 'One namespace' })
  @Allow('viewer')
  async namespace(
    @Args('type', { type: () => NamespaceTypeEnum }) type: string,
    @Args('inode', { type: () => Int64Scalar }) inode: number,
    @Context('req') req: NsgateRequest,
  ): Promise<NamespaceModel> {
    return this.service.find(await snapshotOf(req, this.service), type, inode);
  }

  @ResolveField(() => [ProcessModel], { description: 'every process in it', complexity: listCost(100) })
  @Allow('viewer')
  async processes(@Parent() namespace: NamespaceModel, @Context('req') req: NsgateRequest): Promise<ProcessModel[]> {
    const snapshot = await snapshotOf(req, this.service);
    return this.service.members(this.service.memberPids(snapshot, namespace.type as NamespaceType, namespace.inode), requestReads(req));
  }
}

/** The edge process → namespaces, contributed to the Process type from here. */
@Resolver(() => ProcessModel)
export class ProcessNamespacesResolver {
  constructor(private readonly service: NamespacesService) {}

  @ResolveField(() => [NamespaceModel], { description: 'the namespaces it is in, as lsns lines', complexity: listCost(8) })
  @Allow('viewer')
  async namespaceList(@Parent() process: ProcessModel, @Context('req') req: NsgateRequest): Promise<NamespaceModel[]> {
    const snapshot = await snapshotOf(req, this.service);
    const out: NamespaceModel[] = [];
    for (const type of NAMESPACE_TYPES) {
      const inode = process.namespaces[type];
      if (inode === null) continue;
      try {
        out.push(this.service.find(snapshot, type, inode));
      } catch (err) {
        // the process joined the namespace after the scan: report what the scan saw
        if (!(err instanceof NsgateError && err.code === 'NAMESPACE_NOT_FOUND')) throw err;
      }
    }
    return out;
  }
}
