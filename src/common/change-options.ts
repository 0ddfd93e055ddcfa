import { ArgsType, Field, Int } from '@nestjs/graphql';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';

/**
 * What a limit change may carry beside its limits, for cgroups and containers alike, whichever
 * transport (REST, GraphQL, a batch item) it came from: its precondition and dry run (issue 14
 * part A), how a memory max below usage is reached (`strategy`, `timeoutMs`) and a lease
 * (`ttlSeconds`). The bounds are the DTOs' validators; CHANGE_OPTION_DOCS are their docs,
 * declared once for REST and GraphQL. The one pipeline (CgroupChanges.apply,
 * ContainerChanges.apply) takes these.
 */
export interface ChangeOptions {
  /** The versions the caller read (If-Match / ifVersion); '*' = any; undefined = no precondition. */
  ifVersion?: string[] | '*';
  /** Plan and preflight only: nothing is written (with ttlSeconds: no lease either; with strategy: the stages it would write). */
  dryRun?: boolean;
  /** Cgroups, v2: allow memory.max below usage. */
  force?: boolean;
  strategy?: 'reclaim';
  timeoutMs?: number;
  ttlSeconds?: number;
  /** The request making the change: a lease names it. */
  requestId?: string;
}

export const TTL_SECONDS_MIN = 1;
export const TTL_SECONDS_MAX = 86_400;

export const CHANGE_OPTION_DOCS = {
  strategyDoc: {
    description:
      '"reclaim": a memory max below usage is reached in stages (throttle: v2 memory.high / v1 soft limit; push: v2 memory.reclaim, v1 the refused write itself; ' +
      'wait up to timeoutMs), then set; if usage does not fall, everything is put back and the answer is 409 LIMIT_BELOW_USAGE with the numbers. Never an OOM kill.',
    enum: ['reclaim'],
  },
  timeoutDoc: { description: 'strategy "reclaim": how long to wait for usage to fall, 100..60000 ms (default 10000)', example: 10000 },
  ttlDoc: {
    description:
      'a lease: after this many seconds (1..86400) nsgate puts back the `before` values of the fields this change moved, unless a later change touched them (GET /v1/leases; DELETE /v1/leases/{id} keeps the change)',
    example: 300,
  },
} as const;

/** The change options out of a body or GraphQL args (nulls dropped). */
export function changeOptionsOf(input: { strategy?: unknown; timeoutMs?: unknown; ttlSeconds?: unknown }): Pick<ChangeOptions, 'strategy' | 'timeoutMs' | 'ttlSeconds'> {
  const options: Pick<ChangeOptions, 'strategy' | 'timeoutMs' | 'ttlSeconds'> = {};
  if (input.strategy !== undefined && input.strategy !== null) options.strategy = input.strategy as 'reclaim';
  if (input.timeoutMs !== undefined && input.timeoutMs !== null) options.timeoutMs = input.timeoutMs as number;
  if (input.ttlSeconds !== undefined && input.ttlSeconds !== null) options.ttlSeconds = input.ttlSeconds as number;
  return options;
}

/** The same three as GraphQL arguments, beside a mutation's own (updateContainerLimits). */
@ArgsType()
export class ChangeOptionsArgs {
  @Field(() => String, { nullable: true, description: CHANGE_OPTION_DOCS.strategyDoc.description }) @IsOptional() @IsIn(['reclaim']) strategy?: 'reclaim';
  @Field(() => Int, { nullable: true, description: CHANGE_OPTION_DOCS.timeoutDoc.description }) @IsOptional() @IsInt() @Min(100) @Max(60_000) timeoutMs?: number;
  @Field(() => Int, { nullable: true, description: CHANGE_OPTION_DOCS.ttlDoc.description }) @IsOptional() @IsInt() @Min(TTL_SECONDS_MIN) @Max(TTL_SECONDS_MAX) ttlSeconds?: number;
}
