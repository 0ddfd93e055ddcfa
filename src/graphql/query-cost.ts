import { Global, Injectable, Module } from '@nestjs/common';
import type { ComplexityEstimatorArgs } from '@nestjs/graphql';
import { DEFAULT_PAGE } from '../common/pagination.js';

/** The lists whose current length a module can tell cheaply (from memory, never a scan). */
export type CountedList = 'containers';

/** What the cost estimate is given, per request, in graphql-query-complexity's `context`. */
export interface CostContext {
  sizes?: Partial<Record<CountedList, number>>;
}

/**
 * Current list lengths for the cost estimate. A page of containers costs what it can hold: the
 * page size asked for (default 500) but never more than the containers there are now, so the
 * natural nested query is priced for this host, not for a host with 500 containers. Estimates
 * can be wrong (a container may hold more processes than guessed); the limits plugin also
 * counts the fields really resolved.
 */
@Injectable()
export class QueryCostHints {
  private readonly counters = new Map<CountedList, () => number>();

  register(list: CountedList, count: () => number): void {
    this.counters.set(list, count);
  }

  sizes(): CostContext['sizes'] {
    const sizes: CostContext['sizes'] = {};
    for (const [list, count] of this.counters) sizes[list] = count();
    return sizes;
  }
}

@Global()
@Module({ providers: [QueryCostHints], exports: [QueryCostHints] })
export class QueryCostModule {}

/** Nest's estimator type omits the `context` graphql-query-complexity passes along. */
type Estimate = (options: ComplexityEstimatorArgs) => number;

/** A paged list: each item costs its fields; the page holds `limit` items (default 500), or fewer if the host has fewer. */
export function pageCost(list?: CountedList): Estimate {
  return (options) => {
    const { args, childComplexity } = options;
    const { context } = options as { context?: CostContext };
    const asked = (args.limit as number | undefined) ?? DEFAULT_PAGE;
    const there = list ? context?.sizes?.[list] : undefined;
    return Math.max(1, Math.min(asked, there ?? asked)) * childComplexity;
  };
}

/** A list that is not paged: a guess of its usual length. */
export function listCost(usualLength: number): Estimate {
  return ({ childComplexity }) => usualLength * childComplexity;
}
