import { ArgsType, Field, InputType, Int } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsInt, IsObject, IsOptional, IsString, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { Int64Scalar } from '../../common/scalars/int64.scalar.js';
import { MAX_PID } from '../../common/pid.pipe.js';
import { withChangeArgs } from '../../changes/change.models.js';

/** A whole number, or the same digits as text (parseInteger takes both). */
const intOrText = () => ({ oneOf: [{ type: 'integer' as const }, { type: 'string' as const, pattern: '^\\s*-?\\d{1,16}\\s*$|^max$' }] });

/*
 * The shapes callers send. Values are checked (units, minimums, the host's CPUs) by the
 * kernel layer's parseLimitsInput, which refuses unknown fields at every level; here only
 * the outline is declared, for documentation and the GraphQL schema. Sizes are numbers or
 * strings like "64M", "1G", "max".
 */

@InputType('MemoryLimitsInput')
export class MemoryLimitsInput {
  @Field(() => String, { nullable: true, description: 'bytes, "64M", "1G" or "max"' }) @ApiPropertyOptional({ oneOf: [{ type: 'number' }, { type: 'string' }], example: '8M' }) max?: unknown;
  @Field(() => String, { nullable: true, description: 'v2 memory.high' }) @ApiPropertyOptional({ oneOf: [{ type: 'number' }, { type: 'string' }] }) high?: unknown;
  @Field(() => String, { nullable: true, description: 'swap only' }) @ApiPropertyOptional({ oneOf: [{ type: 'number' }, { type: 'string' }] }) swapMax?: unknown;
}

@InputType('CpuLimitsInput')
export class CpuLimitsInput {
  @Field(() => String, { nullable: true, description: '"quota period" as cpu.max, e.g. "50000 100000", or "max"' }) @ApiPropertyOptional({ oneOf: [{ type: 'string' }, { type: 'object', properties: { quotaUs: intOrText(), periodUs: intOrText() }, additionalProperties: false }], example: '50000 100000' }) max?: unknown;
  @Field(() => Int64Scalar, { nullable: true }) @ApiPropertyOptional({ ...intOrText(), description: 'µs per period; -1 or "max" for none' }) quotaUs?: unknown;
  @Field(() => Int64Scalar, { nullable: true }) @ApiPropertyOptional(intOrText()) periodUs?: unknown;
  @Field(() => Int, { nullable: true, description: '1..10000' }) @ApiPropertyOptional(intOrText()) weight?: unknown;
  @Field(() => Int, { nullable: true, description: '2..262144 (v1 cpu.shares)' }) @ApiPropertyOptional(intOrText()) shares?: unknown;
}

@InputType('PidsLimitsInput')
export class PidsLimitsInput {
  @Field(() => String, { nullable: true, description: 'a count or "max"' }) @ApiPropertyOptional({ oneOf: [{ type: 'number' }, { type: 'string' }], example: 64 }) max?: unknown;
}

@InputType('CpusetLimitsInput')
export class CpusetLimitsInput {
  @Field(() => String, { nullable: true }) @ApiPropertyOptional({ type: 'string', example: '0' }) cpus?: unknown;
  @Field(() => String, { nullable: true }) @ApiPropertyOptional({ type: 'string', example: '0' }) mems?: unknown;
}

@InputType('CgroupLimitsInput')
export class LimitsInputModel {
  @Field(() => MemoryLimitsInput, { nullable: true }) @ApiPropertyOptional({ type: MemoryLimitsInput }) @IsOptional() @IsObject() memory?: MemoryLimitsInput;
  @Field(() => CpuLimitsInput, { nullable: true }) @ApiPropertyOptional({ type: CpuLimitsInput }) @IsOptional() @IsObject() cpu?: CpuLimitsInput;
  @Field(() => PidsLimitsInput, { nullable: true }) @ApiPropertyOptional({ type: PidsLimitsInput }) @IsOptional() @IsObject() pids?: PidsLimitsInput;
  @Field(() => CpusetLimitsInput, { nullable: true }) @ApiPropertyOptional({ type: CpusetLimitsInput }) @IsOptional() @IsObject() cpuset?: CpusetLimitsInput;
}

/** PATCH .../-/limits */
export class SetLimitsBody extends LimitsInputModel {
  @ApiPropertyOptional({ description: 'v2: allow memory.max below current usage (the kernel reclaims, and OOM-kills if it cannot)' })
  @IsOptional()
  @IsBoolean()
  force?: boolean;
}

/** PUT /v1/cgroups/{path} */
export class CreateCgroupBody {
  @ApiPropertyOptional({ type: LimitsInputModel })
  @IsOptional()
  @IsObject()
  limits?: LimitsInputModel;
}

/** POST .../-/processes */
export class MoveProcessBody {
  @ApiProperty({ type: 'integer', minimum: 1, maximum: MAX_PID, example: 1234 })
  @IsInt()
  @Min(1)
  @Max(MAX_PID)
  pid: number;
}

@ArgsType()
export class CgroupPathArgs {
  @Field({ description: 'as in /proc/PID/cgroup, e.g. /nsgate/batch' })
  @IsString()
  @MaxLength(4096)
  path: string;
}

@ArgsType()
export class SetLimitsArgs extends withChangeArgs(CgroupPathArgs) {
  @Field(() => LimitsInputModel)
  @ValidateNested()
  @Type(() => LimitsInputModel)
  limits: LimitsInputModel;

  @Field(() => Boolean, { nullable: true })
  @IsOptional()
  @IsBoolean()
  force?: boolean;
}

@ArgsType()
export class CreateCgroupArgs extends CgroupPathArgs {
  @Field(() => LimitsInputModel, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => LimitsInputModel)
  limits?: LimitsInputModel;
}

@ArgsType()
export class MoveProcessArgs extends CgroupPathArgs {
  @Field(() => Int)
  @IsInt()
  @Min(1)
  @Max(MAX_PID)
  pid: number;
}
