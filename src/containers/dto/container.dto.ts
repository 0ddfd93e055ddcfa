import { ArgsType, Field, Float, InputType, Int } from '@nestjs/graphql';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsNumber, IsOptional, IsString, Max, MaxLength, Min, ValidateIf, ValidateNested } from 'class-validator';
import { Type } from 'class-transformer';
import { CHANGE_OPTION_DOCS, ChangeOptionsArgs, TTL_SECONDS_MAX, TTL_SECONDS_MIN } from '../../common/change-options.js';
import { withChangeArgs } from '../../changes/change.models.js';
import { PageQuery } from '../../common/pagination.js';
import { Int64Scalar } from '../../common/scalars/int64.scalar.js';

@ArgsType()
export class ContainerListQuery extends PageQuery {
  @Field(() => Boolean, { nullable: true })
  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'include each running container\'s stats' })
  @IsOptional()
  @IsIn(['true', 'false', true, false])
  stats?: string | boolean;
}

/** PATCH /v1/containers/{id}/limits; sent through the engine's update API, as `docker update`. */
@InputType('ContainerLimitsInput')
export class ContainerLimitsBody {
  @Field(() => String, { nullable: true, description: 'bytes or "64M"; at least 6 MiB' })
  @ApiPropertyOptional({ oneOf: [{ type: 'number' }, { type: 'string' }], example: 8000000 })
  @IsOptional()
  memory?: number | string;

  @Field(() => String, { nullable: true, description: 'memory + swap: bytes, "1G", or -1 / "max" for unlimited swap' })
  @ApiPropertyOptional({ oneOf: [{ type: 'number' }, { type: 'string' }] })
  @IsOptional()
  memorySwap?: number | string;

  @Field(() => Float, { nullable: true, description: 'CPUs, e.g. 1.5 (docker update --cpus)' })
  @ApiPropertyOptional({ type: 'number', format: 'double', example: 0.5 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.01)
  @Max(1024)
  cpus?: number;

  @Field(() => Int, { nullable: true, description: '2..262144' })
  @ApiPropertyOptional({ example: 512 })
  @IsOptional()
  @IsInt()
  @Min(2)
  @Max(262144)
  cpuShares?: number;

  @Field(() => Int64Scalar, { nullable: true, description: 'a count, or -1 for unlimited' })
  @ApiPropertyOptional({ example: 64 })
  @IsOptional()
  @IsInt()
  @ValidateIf((o: ContainerLimitsBody) => o.pidsLimit !== -1)
  @Min(1)
  @Max(4194304)
  pidsLimit?: number;
}

/** PATCH /v1/containers/{id}/limits: the limits, and the change options (GraphQL: arguments beside `limits`). */
export class ContainerLimitsPatchBody extends ContainerLimitsBody {
  @ApiPropertyOptional(CHANGE_OPTION_DOCS.strategyDoc) @IsOptional() @IsIn(['reclaim']) strategy?: 'reclaim';
  @ApiPropertyOptional(CHANGE_OPTION_DOCS.timeoutDoc) @IsOptional() @IsInt() @Min(100) @Max(60_000) timeoutMs?: number;
  @ApiPropertyOptional(CHANGE_OPTION_DOCS.ttlDoc) @IsOptional() @IsInt() @Min(TTL_SECONDS_MIN) @Max(TTL_SECONDS_MAX) ttlSeconds?: number;
}

/**
 * updateContainerLimits' arguments, validated as one object: the container, its limits, the
 * change options (strategy, timeoutMs, ttlSeconds) and what every change takes (ifVersion,
 * dryRun, idempotencyKey).
 */
@ArgsType()
export class UpdateContainerLimitsArgs extends withChangeArgs(ChangeOptionsArgs) {
  @Field({ description: 'id, unique id prefix or name' })
  @IsString()
  @MaxLength(256)
  id: string;

  @Field(() => ContainerLimitsBody)
  @ValidateNested()
  @Type(() => ContainerLimitsBody)
  limits: ContainerLimitsBody;
}
