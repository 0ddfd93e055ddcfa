import { Args, Context, Int, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { Audit } from '../audit/audit.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import type { Caller } from '../auth/roles.js';
import { CurrentCaller } from '../common/caller.decorator.js';
import { PidPipe } from '../common/pid.pipe.js';
import type { Page } from '../common/pagination.js';
import { perRequest } from '../common/request-cache.js';
import type { NsgateRequest } from '../common/request-context.js';
import { listCost, pageCost } from '../graphql/query-cost.js';
import { NsgateError } from '../kernel/errors.js';
import { ProcessListQuery } from './dto/process-list.query.js';
import { AncestorModel, EnvironmentModel, ProcessModel, ProcessPageModel, ProcessStatusModel } from './process.models.js';
import { ProcessesService } from './processes.service.js';

/** Children are found by one scan per request, shared by every Process.children in it. */
@Resolver(() => ProcessModel)
export class ProcessesResolver {
  constructor(private readonly service: ProcessesService) {}

  @Query(() => ProcessPageModel, {
    description: 'Every process, filtered and paged',
    complexity: pageCost(),
  })
  @Allow('viewer')
  processes(@Args() query: ProcessListQuery): Promise<Page<ProcessModel>> {
    return this.service.list(query);
  }

  @Query(() => ProcessModel, { description: 'One process, read now' })
  @Allow('viewer')
  process(@Args('pid', { type: () => Int }, PidPipe) pid: number): ProcessModel {
    return this.service.one(pid);
  }

  @Query(() => EnvironmentModel, {
    description: 'A process\'s environment: keys for every viewer; with reveal: true the values too, for admins only (audited as process.environ.reveal)',
  })
  @Allow('viewer', { 'process.environ.reveal': 'admin' })
  @Audit('process.environ.reveal', (i) => `process:${String(i.args.pid)}`, (i) => i.args.reveal === true)
  processEnvironment(
    @Args('pid', { type: () => Int }, PidPipe) pid: number,
    @Args('reveal', { type: () => Boolean, defaultValue: false }) reveal: boolean,
    @CurrentCaller() caller: Caller,
  ): EnvironmentModel {
    return this.service.environ(pid, reveal, caller);
  }

  @ResolveField(() => ProcessModel, { nullable: true, description: 'null for pid 1, kernel threads of pid 0, or a parent that has exited' })
  @Allow('viewer')
  parent(@Parent() process: ProcessModel): ProcessModel | null {
    if (process.ppid === 0) return null;
    try {
      return this.service.one(process.ppid);
    } catch (err) {
      if (err instanceof NsgateError && err.code === 'PROCESS_NOT_FOUND') return null;
      throw err;
    }
  }

  @ResolveField(() => [ProcessModel], { complexity: listCost(10) })
  @Allow('viewer')
  async children(@Parent() process: ProcessModel, @Context('req') req: NsgateRequest): Promise<ProcessModel[]> {
    const all = await perRequest(req, 'processes', () => this.service.all());
    return all.filter((p) => p.ppid === process.pid);
  }

  @ResolveField(() => [AncestorModel], { description: 'parent first, up to pid 1' })
  @Allow('viewer')
  ancestors(@Parent() process: ProcessModel): AncestorModel[] {
    return this.service.ancestors(process.pid);
  }

  @ResolveField(() => ProcessStatusModel)
  @Allow('viewer')
  status(@Parent() process: ProcessModel): ProcessStatusModel {
    return this.service.status(process.pid);
  }
}
