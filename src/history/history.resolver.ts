import { Args, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { Allow } from '../auth/auth.decorator.js';
import { CgroupModel } from '../cgroups/cgroup.models.js';
import { ContainerModel } from '../containers/container.models.js';
import type { CgroupInfo } from '../kernel/cgroups/system.js';
import { HistoryQuery } from './dto/history.query.js';
import { HistoryModel, RecommendationModel } from './history.models.js';
import { HistoryService } from './history.service.js';

const HISTORY = 'usage history (as GET .../history): 1 s points for 10 minutes, 1 min min/avg/max for 24 hours, in memory only; null when nsgate keeps none for it';
const RECOMMENDATION = 'memory and cpu limits recommended from its history, with evidence, confidence and reasons (as GET .../recommendation); never applied by nsgate';

@Resolver(() => CgroupModel)
export class CgroupHistoryResolver {
  constructor(private readonly service: HistoryService) {}

  @ResolveField(() => HistoryModel, { nullable: true, description: HISTORY })
  @Allow('viewer')
  history(@Parent() cgroup: CgroupInfo, @Args() query: HistoryQuery): HistoryModel | null {
    return this.service.hasCgroup(cgroup.path) ? this.service.cgroupHistory(cgroup.path, query) : null;
  }

  @ResolveField(() => RecommendationModel, { nullable: true, description: RECOMMENDATION })
  @Allow('viewer')
  recommendation(@Parent() cgroup: CgroupInfo): RecommendationModel | null {
    return this.service.hasCgroup(cgroup.path) ? this.service.cgroupRecommendation(cgroup.path) : null;
  }
}

@Resolver(() => ContainerModel)
export class ContainerHistoryResolver {
  constructor(private readonly service: HistoryService) {}

  @ResolveField(() => HistoryModel, { nullable: true, description: HISTORY })
  @Allow('viewer')
  history(@Parent() container: ContainerModel, @Args() query: HistoryQuery): Promise<HistoryModel | null> {
    return this.service.hasContainer(container.id) ? this.service.containerHistory(container.id, query) : Promise.resolve(null);
  }

  @ResolveField(() => RecommendationModel, { nullable: true, description: RECOMMENDATION })
  @Allow('viewer')
  recommendation(@Parent() container: ContainerModel): Promise<RecommendationModel | null> {
    return container.pid !== null && this.service.hasContainer(container.id) ? this.service.containerRecommendation(container.id) : Promise.resolve(null);
  }
}
