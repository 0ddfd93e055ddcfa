import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { Audit } from '../audit/audit.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import { paginate, PageQuery } from '../common/pagination.js';
import { keptOutcome, LeaseKeptModel, LeasePageModel } from './lease.models.js';
import { LeasesService } from './leases.service.js';

@Resolver()
export class LeasesResolver {
  constructor(private readonly service: LeasesService) {}

  @Query(() => LeasePageModel, { description: 'The leases nsgate holds (limit changes made with ttlSeconds), soonest expiry first' })
  @Allow('viewer')
  leases(@Args() query: PageQuery): LeasePageModel {
    return paginate(this.service.list(), query.limit, query.cursor);
  }

  @Mutation(() => LeaseKeptModel, { description: 'Keep the change a lease would put back: the lease ends, nothing is restored' })
  @Allow('operator')
  @Audit('lease.kept', (i) => `lease:${String(i.args.id)}`, undefined, keptOutcome)
  async keepLease(@Args('id') id: string): Promise<LeaseKeptModel> {
    return { id, result: 'kept', lease: await this.service.keep(id) };
  }
}
