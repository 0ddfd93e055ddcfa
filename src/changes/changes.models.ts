import { Field, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty } from '@nestjs/swagger';
import { LimitsChangeModel } from '../cgroups/cgroup.models.js';
import { JsonScalar } from '../common/scalars/json.scalar.js';
import { ContainerLimitsChangeModel } from '../containers/container.models.js';

@ObjectType('ChangeError')
export class ChangeErrorModel {
  @Field() @ApiProperty({ example: 'CONTAINER_NOT_FOUND' }) code: string;
  @Field() @ApiProperty() message: string;
  @Field(() => JsonScalar, { nullable: true }) @ApiProperty({ type: 'object', additionalProperties: true, nullable: true }) details: Record<string, unknown> | null;
}

@ObjectType('ChangeItemResult')
export class ChangeItemResultModel {
  @Field(() => Int, { description: 'its place in the request, from 0' }) @ApiProperty({ description: 'its place in the request, from 0' }) index: number;
  @Field({ description: 'cgroup:/path or container:idOrName' }) @ApiProperty({ example: 'cgroup:/nsgate/a' }) target: string;
  @Field(() => LimitsChangeModel, { nullable: true, description: 'a cgroup item: as setCgroupLimits answers' })
  @ApiProperty({ type: LimitsChangeModel, required: false, description: 'a cgroup item: as PATCH .../-/limits answers' })
  cgroup?: LimitsChangeModel;
  @Field(() => ContainerLimitsChangeModel, { nullable: true, description: 'a container item: as updateContainerLimits answers' })
  @ApiProperty({ type: ContainerLimitsChangeModel, required: false, description: 'a container item: as PATCH /v1/containers/{id}/limits answers' })
  container?: ContainerLimitsChangeModel;
  @Field(() => ChangeErrorModel, { nullable: true, description: 'dry runs: why this item would fail' })
  @ApiProperty({ type: ChangeErrorModel, required: false, description: 'dry runs: why this item would fail' })
  error?: ChangeErrorModel;
}

@ObjectType('ChangesResult', { description: 'A batch: every item applied (or, in a dry run, planned), in order' })
export class ChangesResultModel {
  @Field() @ApiProperty({ description: 'true: nothing was written; each item holds its plan and findings' }) dryRun: boolean;
  @Field({ description: 'a dry run: whether every item would apply (no error and no error finding); otherwise always true' })
  @ApiProperty({ description: 'a dry run: whether every item would apply (no error and no error finding); otherwise always true' })
  wouldApply: boolean;
  @Field(() => [ChangeItemResultModel]) @ApiProperty({ type: [ChangeItemResultModel] }) items: ChangeItemResultModel[];
}
