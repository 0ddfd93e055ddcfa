import { ArgsType, Field, ObjectType } from '@nestjs/graphql';
import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { Int64Scalar } from '../common/scalars/int64.scalar.js';
import { JsonScalar } from '../common/scalars/json.scalar.js';

@ObjectType('LimitWrite', { description: 'One cgroupfs file a change writes (a dry run: would write), in order' })
export class LimitWriteModel {
  @Field() @ApiProperty({ example: '/sys/fs/cgroup/memory/nsgate/a/memory.limit_in_bytes' }) file: string;
  @Field({ description: 'what the file held' }) @ApiProperty({ example: '9223372036854771712' }) from: string;
  @Field({ description: 'what is written' }) @ApiProperty({ example: '67108864' }) to: string;
}

@ObjectType('EngineWrite', { description: 'One Docker Engine HostConfig field a container change sends (a dry run: would send), in order' })
export class EngineWriteModel {
  @Field() @ApiProperty({ enum: ['Memory', 'MemorySwap', 'NanoCpus', 'CpuShares', 'PidsLimit'] }) field: string;
  @Field(() => Int64Scalar, { nullable: true, description: 'what docker inspect showed; null = unset' }) @ApiProperty({ type: Number, nullable: true }) from: number | null;
  @Field(() => Int64Scalar) @ApiProperty() to: number;
}

@ObjectType('PreflightFinding', { description: 'What a dry run found the change would run into' })
export class PreflightFindingModel {
  @Field() @ApiProperty({ enum: ['BELOW_USAGE', 'BELOW_UNRECLAIMABLE', 'CPUSET_OUTSIDE_PARENT', 'PARENT_LIMIT_LOWER', 'WOULD_FAIL'] }) code: string;
  @Field({ description: 'error: the change would be refused (or OOM-kill); warning: applied, but may not do what is meant' })
  @ApiProperty({ enum: ['error', 'warning'] })
  severity: string;
  @Field() @ApiProperty({ example: 'memory.max' }) field: string;
  @Field() @ApiProperty() message: string;
  @Field(() => JsonScalar) @ApiProperty({ type: 'object', additionalProperties: true }) details: Record<string, unknown>;
}

/** What every limits change answers beside its before/after (REST and GraphQL). */
export const CHANGE_ANSWER_DOCS = {
  target: 'cgroup:/path or container:idOrName',
  dryRun: 'true: nothing was written; writes is the plan, findings the preflight',
  version: 'the limits version after the change (a dry run: the current one); REST sends it as the ETag too; give it as If-Match / ifVersion',
  writes: 'what was written (a dry run: would be), in order, old → new',
  findings: 'dry runs only: the preflight',
};

type Constructor<T = object> = abstract new (...args: any[]) => T;

/** The GraphQL arguments every single change takes: ifVersion, dryRun, idempotencyKey. */
export function withChangeArgs<B extends Constructor>(Base: B) {
  @ArgsType()
  abstract class ChangeArgs extends Base {
    @Field(() => String, { nullable: true, description: 'change only if the limits version is still this one (else PRECONDITION_FAILED with the current values); "*" = any' })
    @IsOptional()
    @IsString()
    @MaxLength(2048)
    ifVersion?: string;

    @Field(() => Boolean, { nullable: true, description: 'answer the plan (writes, in order) and the preflight findings; write nothing' })
    @IsOptional()
    @IsBoolean()
    dryRun?: boolean;

    @Field(() => String, { nullable: true, description: 'the same key with the same arguments within 24 h answers the first answer again, without a second write; another body: IDEMPOTENCY_KEY_REUSED' })
    @IsOptional()
    @IsString()
    @Matches(/^[\x21-\x7e]{1,255}$/)
    idempotencyKey?: string;
  }
  return ChangeArgs;
}

