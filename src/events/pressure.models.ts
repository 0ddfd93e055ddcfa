import { Field, InputType, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, MaxLength } from 'class-validator';
import { Int64Scalar } from '../common/scalars/int64.scalar.js';

const SPEC = {
  resource: 'memory, cpu or io',
  kind: 'some (at least one task stalled) or full (all non-idle tasks stalled)',
  stallUs: 'stall time within the window that fires it, µs (above 0, below windowUs)',
  windowUs: 'the window, µs: 500000 to 10000000 (without CAP_SYS_RESOURCE the kernel takes whole multiples of 2 s; others are polled)',
};

/** POST /v1/pressure-triggers; GraphQL addPressureTrigger. */
@InputType('PressureTriggerInput')
export class PressureTriggerBody {
  @Field(() => String, { nullable: true, description: 'a cgroup path (give this or container)' })
  @ApiPropertyOptional({ example: '/nsgate/batch', description: 'a cgroup path (give this or container)' })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  cgroup?: string;

  @Field(() => String, { nullable: true, description: 'a running container: id, unique id prefix or name (give this or cgroup)' })
  @ApiPropertyOptional({ description: 'a running container: id, unique id prefix or name (give this or cgroup)' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  container?: string;

  @Field({ description: SPEC.resource }) @ApiProperty({ enum: ['memory', 'cpu', 'io'], description: SPEC.resource }) @IsIn(['memory', 'cpu', 'io']) resource: string;
  @Field({ description: SPEC.kind }) @ApiProperty({ enum: ['some', 'full'], description: SPEC.kind }) @IsIn(['some', 'full']) kind: string;
  @Field(() => Int64Scalar, { description: SPEC.stallUs }) @ApiProperty({ example: 150000, description: SPEC.stallUs }) @IsInt() stallUs: number;
  @Field(() => Int64Scalar, { description: SPEC.windowUs }) @ApiProperty({ example: 2000000, description: SPEC.windowUs }) @IsInt() windowUs: number;
}

@ObjectType('PressureTrigger')
export class PressureTriggerModel {
  @Field(() => Int) @ApiProperty() id: number;
  @Field({ description: 'cgroup:<path> or container:<id>: the target of its pressure.threshold events' }) @ApiProperty({ example: 'container:4f1c…' }) target: string;
  @Field() @ApiProperty() cgroupPath: string;
  @Field() @ApiProperty({ enum: ['memory', 'cpu', 'io'] }) resource: string;
  @Field() @ApiProperty({ enum: ['some', 'full'] }) kind: string;
  @Field(() => Int64Scalar, { description: 'µs' }) @ApiProperty({ description: 'µs' }) stallUs: number;
  @Field(() => Int64Scalar, { description: 'µs' }) @ApiProperty({ description: 'µs' }) windowUs: number;
  @Field({ description: "kernel: the kernel's own PSI trigger (POLLPRI); polling: nsgate reads the PSI totals once a second with the same rule" })
  @ApiProperty({ enum: ['kernel', 'polling'] })
  mode: string;
  @Field(() => String, { nullable: true, description: 'why it polls' }) @ApiProperty({ type: String, nullable: true }) modeReason: string | null;
  @Field({ description: 'the token name that registered it' }) @ApiProperty() owner: string;
  @Field() @ApiProperty() armedAt: string;
  @Field(() => Int) @ApiProperty() fired: number;
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true }) lastFiredAt: string | null;
}

export class PressureTriggerListModel {
  @ApiProperty({ type: [PressureTriggerModel] }) items: PressureTriggerModel[];
}
