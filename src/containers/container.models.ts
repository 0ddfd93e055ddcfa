import { Field, Float, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty } from '@nestjs/swagger';
import { LimitsModel } from '../cgroups/cgroup.models.js';
import { Int64Scalar } from '../common/scalars/int64.scalar.js';
import { AncestorModel, NamespaceInodesModel, ProcessCgroupModel } from '../processes/process.models.js';
import { FindingModel, ProcessSecurityModel } from '../security/security.models.js';

@ObjectType('SharedNamespace')
export class SharedNamespaceModel {
  @Field() @ApiProperty({ example: 'net' }) type: string;
  @Field(() => Int64Scalar) @ApiProperty() inode: number;
  @Field(() => [String]) @ApiProperty({ type: [String], description: 'ids of the containers it shares this namespace with, and "host" for the host\'s own' }) with: string[];
}

@ObjectType('Container')
export class ContainerModel {
  @Field() @ApiProperty() id: string;
  @Field() @ApiProperty() name: string;
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true }) image: string | null;
  @Field() @ApiProperty({ example: 'running' }) state: string;
  @Field(() => Int, { nullable: true }) @ApiProperty({ type: Number, nullable: true, description: 'init pid on the host (State.Pid); null when not running' }) pid: number | null;
  @Field() @ApiProperty({ example: 'docker' }) runtime: string;
  @Field() @ApiProperty({ enum: ['engine', 'cgroup'], description: 'engine: from the Docker Engine; cgroup: recognised by its cgroup path alone' }) source: string;
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true, example: '/docker/4f1c…' }) cgroupPath: string | null;
  @Field(() => [ProcessCgroupModel]) @ApiProperty({ type: [ProcessCgroupModel], description: 'per hierarchy, from /proc/PID/cgroup' }) cgroups: ProcessCgroupModel[];
  @Field(() => NamespaceInodesModel, { nullable: true }) @ApiProperty({ type: NamespaceInodesModel, nullable: true }) namespaces: NamespaceInodesModel | null;
  @Field(() => LimitsModel, { nullable: true }) @ApiProperty({ type: LimitsModel, nullable: true, description: 'as the kernel holds them' }) limits: LimitsModel | null;
  @Field(() => [SharedNamespaceModel]) @ApiProperty({ type: [SharedNamespaceModel] }) sharedNamespaces: SharedNamespaceModel[];
  @Field({ description: 'true while the Docker Engine does not answer: identity and state are what it last said (limits and usage are still read from the kernel)' })
  @ApiProperty({ description: 'true while the Docker Engine does not answer: identity and state are what it last said (limits and usage are still read from the kernel)' })
  stale: boolean;
}

@ObjectType('ContainerMemoryStats')
export class ContainerMemoryStatsModel {
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) usage: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true, description: 'null = unlimited' }) limit: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true, description: 'usage minus inactive file, as docker stats shows it' }) workingSet: number | null;
}

@ObjectType('ContainerCpuStats')
export class ContainerCpuStatsModel {
  @Field(() => Float, { nullable: true }) @ApiProperty({ type: Number, nullable: true, description: 'as docker stats computes it (100 = one CPU); null until a first sample exists' }) percent: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) usageNs: number | null;
  @Field(() => Int, { nullable: true }) @ApiProperty({ type: Number, nullable: true, description: 'the window the percent is over' }) windowMs: number | null;
}

@ObjectType('ContainerPidsStats')
export class ContainerPidsStatsModel {
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) current: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) limit: number | null;
}

@ObjectType('ContainerBlkioStats')
export class ContainerBlkioStatsModel {
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) readBytes: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) writeBytes: number | null;
}

@ObjectType('ContainerStats')
export class ContainerStatsModel {
  @Field() @ApiProperty() id: string;
  @Field() @ApiProperty() name: string;
  @Field(() => ContainerMemoryStatsModel) @ApiProperty({ type: ContainerMemoryStatsModel }) memory: ContainerMemoryStatsModel;
  @Field(() => ContainerCpuStatsModel) @ApiProperty({ type: ContainerCpuStatsModel }) cpu: ContainerCpuStatsModel;
  @Field(() => ContainerPidsStatsModel) @ApiProperty({ type: ContainerPidsStatsModel }) pids: ContainerPidsStatsModel;
  @Field(() => ContainerBlkioStatsModel) @ApiProperty({ type: ContainerBlkioStatsModel }) blkio: ContainerBlkioStatsModel;
  @Field() @ApiProperty({ description: 'ISO 8601' }) readAt: string;
  @Field({ description: 'true for a reading replayed from history (the containerStats subscription with since): one second\'s averages, no limits, usageNs or blkio' })
  @ApiProperty({ description: 'true for a reading replayed from history (the containerStats subscription with since); false for a live reading' })
  fromHistory: boolean;
}

/** GET /v1/containers?stats=true: each container with its stats. */
export class ContainerWithStatsModel extends ContainerModel {
  @ApiProperty({ type: ContainerStatsModel, nullable: true }) stats?: ContainerStatsModel | null;
}

export class ContainerPageModel {
  @ApiProperty({ type: [ContainerWithStatsModel] }) items: ContainerWithStatsModel[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
  @ApiProperty({ description: 'true while the Docker Engine does not answer: the list is what it last said' }) stale: boolean;
}

@ObjectType('ContainerProcess')
export class ContainerProcessModel {
  @Field(() => Int) @ApiProperty({ description: 'on the host' }) pid: number;
  @Field(() => Int) @ApiProperty({ description: 'inside the container (last NSpid)' }) pidInContainer: number;
  @Field(() => Int) @ApiProperty() ppid: number;
  @Field() @ApiProperty() user: string;
  @Field() @ApiProperty({ description: 'the command line, as docker top shows it' }) command: string;
}

@ObjectType('ContainerTop')
export class ContainerTopModel {
  @Field() @ApiProperty() id: string;
  @Field(() => [ContainerProcessModel]) @ApiProperty({ type: [ContainerProcessModel] }) processes: ContainerProcessModel[];
  @Field(() => [AncestorModel]) @ApiProperty({ type: [AncestorModel], description: "init's parents up to pid 1: the shim, containerd, ... (pstree -s)" }) ancestors: AncestorModel[];
}

@ObjectType('EngineLimits')
export class EngineLimitsModel {
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) memory: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true, description: 'memory + swap' }) memorySwap: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) nanoCpus: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) cpuShares: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) pidsLimit: number | null;
}

@ObjectType('ContainerLimitsChange')
export class ContainerLimitsChangeModel {
  @Field() @ApiProperty() id: string;
  @Field(() => LimitsModel, { nullable: true }) @ApiProperty({ type: LimitsModel, nullable: true, description: 'the kernel, before' }) before: LimitsModel | null;
  @Field(() => LimitsModel, { nullable: true }) @ApiProperty({ type: LimitsModel, nullable: true, description: 'the kernel, read back after' }) after: LimitsModel | null;
  @Field(() => EngineLimitsModel) @ApiProperty({ type: EngineLimitsModel, description: 'docker inspect, before' }) engineBefore: EngineLimitsModel;
  @Field(() => EngineLimitsModel) @ApiProperty({ type: EngineLimitsModel, description: 'docker inspect, after' }) engineAfter: EngineLimitsModel;
  @Field(() => [String]) @ApiProperty({ type: [String] }) warnings: string[];
}

@ObjectType('ContainerSecurity')
export class ContainerSecurityModel extends ProcessSecurityModel {
  @Field() @ApiProperty() containerId: string;
  @Field(() => [FindingModel]) @ApiProperty({ type: [FindingModel] }) findings: FindingModel[];
}

@ObjectType('ContainerPage')
export class ContainerPageGqlModel {
  @Field(() => [ContainerModel]) items: ContainerModel[];
  @Field(() => String, { nullable: true }) nextCursor: string | null;
  @Field({ description: 'true while the Docker Engine does not answer: the list is what it last said' }) stale: boolean;
}
