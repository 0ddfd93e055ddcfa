import { ArgsType, Field, InputType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsObject, IsOptional, IsString, Matches, MaxLength, ValidateNested } from 'class-validator';
import { LimitsInputModel } from '../../cgroups/dto/limits.input.js';
import { ContainerLimitsBody } from '../../containers/dto/container.dto.js';

/** The most changes one batch may hold. */
export const MAX_BATCH_CHANGES = 64;

/** One item of POST /v1/changes: a cgroup or a container, with limits in its own route's vocabulary. */
export class ChangeItemBody {
  @ApiPropertyOptional({ example: '/nsgate/a', description: 'a cgroup path, as PATCH /v1/cgroups/{path}/-/limits takes it; give cgroup or container' })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  cgroup?: string;

  @ApiPropertyOptional({ example: 'db', description: 'a container id, id prefix or name, as PATCH /v1/containers/{id}/limits takes it' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  container?: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'the body of the single route: {"memory": {"max": "64M"}, ...} for a cgroup (see SetLimitsBody), {"memory": "64M", "cpus": 0.5, ...} for a container',
    example: { memory: { max: '64M' } },
  })
  @IsObject()
  limits: Record<string, unknown>;

  @ApiPropertyOptional({ description: "this item's If-Match: change only if its limits version is still this one" })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  ifVersion?: string;

  @ApiPropertyOptional({ description: 'cgroups only, as the single route: v2 allows memory.max below usage' })
  @IsOptional()
  @IsBoolean()
  force?: boolean;
}

/** POST /v1/changes */
export class ChangesBody {
  @ApiProperty({ type: [ChangeItemBody], description: `1 to ${MAX_BATCH_CHANGES} changes, applied in order, all or nothing` })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BATCH_CHANGES)
  @ValidateNested({ each: true })
  @Type(() => ChangeItemBody)
  changes: ChangeItemBody[];
}

@InputType('ChangeItemInput', { description: 'One change of a batch: a cgroup with cgroupLimits, or a container with containerLimits' })
export class ChangeItemInput {
  @Field(() => String, { nullable: true, description: 'a cgroup path, e.g. /nsgate/a' })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  cgroup?: string;

  @Field(() => String, { nullable: true, description: 'a container id, id prefix or name' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  container?: string;

  @Field(() => LimitsInputModel, { nullable: true, description: 'for a cgroup, as setCgroupLimits takes them' })
  @IsOptional()
  @ValidateNested()
  @Type(() => LimitsInputModel)
  cgroupLimits?: LimitsInputModel;

  @Field(() => ContainerLimitsBody, { nullable: true, description: 'for a container, as updateContainerLimits takes them' })
  @IsOptional()
  @ValidateNested()
  @Type(() => ContainerLimitsBody)
  containerLimits?: ContainerLimitsBody;

  @Field(() => String, { nullable: true, description: "this item's precondition: its limits version as read" })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  ifVersion?: string;

  @Field(() => Boolean, { nullable: true, description: 'cgroups only: v2 allows memory.max below usage' })
  @IsOptional()
  @IsBoolean()
  force?: boolean;
}

@ArgsType()
export class ApplyChangesArgs {
  @Field(() => [ChangeItemInput], { description: `1 to ${MAX_BATCH_CHANGES} changes, applied in order, all or nothing` })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BATCH_CHANGES)
  @ValidateNested({ each: true })
  @Type(() => ChangeItemInput)
  changes: ChangeItemInput[];

  @Field(() => Boolean, { nullable: true, description: 'plan and preflight every item; write nothing' })
  @IsOptional()
  @IsBoolean()
  dryRun?: boolean;

  @Field(() => String, { nullable: true, description: 'the same key with the same arguments within 24 h answers the first answer again' })
  @IsOptional()
  @IsString()
  @Matches(/^[\x21-\x7e]{1,255}$/)
  idempotencyKey?: string;
}
