import { Query, Resolver } from '@nestjs/graphql';
import { Allow } from '../auth/auth.decorator.js';
import { HostModel } from './host.models.js';
import { HostService } from './host.service.js';

@Resolver(() => HostModel)
export class HostResolver {
  constructor(private readonly hosts: HostService) {}

  @Query(() => HostModel, { description: 'Kernel, cgroup layout, LSMs and engine of this host' })
  @Allow('viewer')
  host(): Promise<HostModel> {
    return this.hosts.host();
  }
}
