import { Context, Query, Resolver } from '@nestjs/graphql';
import { Allow } from '../auth/auth.decorator.js';
import { perRequest } from '../common/request-cache.js';
import type { NsgateRequest } from '../common/request-context.js';
import { HostModel } from './host.models.js';
import { HostService } from './host.service.js';

@Resolver(() => HostModel)
export class HostResolver {
  constructor(private readonly hosts: HostService) {}

  @Query(() => HostModel, { description: 'Kernel, cgroup layout, LSMs and engine of this host' })
  @Allow('viewer')
  host(@Context('req') req: NsgateRequest): Promise<HostModel> {
    // aliases of host in one query share one read (and one call to the engine)
    return perRequest(req, 'host', () => this.hosts.host());
  }
}
