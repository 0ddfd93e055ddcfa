import { Field, Float, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { LeaseRefModel } from '../leases/lease.models.js';
import { LimitsModel } from '../cgroups/cgroup.models.js';
import { Int64Scalar } from '../common/scalars/int64.scalar.js';
import { CHANGE_ANSWER_DOCS, EngineWriteModel, LimitWriteModel, PreflightFindingModel } from '../changes/change.models.js';
import { AncestorModel, NamespaceInodesModel, ProcessCgroupModel } from '../processes/process.models.js';
import { FindingModel, ProcessSecurityModel } from '../security/security.models.js';

@ObjectType('SharedNamespace')
export class SharedNamespaceModel {
  @Field() @ApiProperty({ example: 'net' }) type: string;
  @Field(() => Int64Scalar) @ApiProperty() inode: number;
  @Field(() => [String]) @ApiProperty({ type: [String], description: 'ids of the containers it shares this namespace with, and "host" for the host\'s own' }) with: string[];
}

@ObjectType('LimitDrift', { description: "a limit where the kernel differs from the engine (docker inspect), in the engine's vocabulary" })
export class LimitDriftModel {
  @Field({ description: 'memory, memorySwap, nanoCpus, cpuShares or pidsLimit' }) @ApiProperty({ enum: ['memory', 'memorySwap', 'nanoCpus', 'cpuShares', 'pidsLimit'] }) field: string;
  @Field(() => Int64Scalar, { nullable: true, description: 'what the kernel holds; null = unlimited' }) @ApiProperty({ type: Number, nullable: true, example: 7999488 }) kernel: number | null;
  @Field(() => Int64Scalar, { nullable: true, description: 'what the engine holds; null = unlimited or unset' }) @ApiProperty({ type: Number, nullable: true, example: null }) engine: number | null;
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
  @Field(() => [LimitDriftModel], { nullable: true, description: 'where the kernel\'s limits differ from the engine\'s (a raw write into a cgroup file); [] when they agree, null when not compared (not running, not the engine\'s). POST /v1/containers/{id}/limits/reconcile puts the engine\'s values back' })
  @ApiProperty({ type: [LimitDriftModel], nullable: true, description: "where the kernel's limits differ from the engine's; [] when they agree, null when not compared (not running, not the engine's)" })
  drift: LimitDriftModel[] | null;
  @Field(() => [SharedNamespaceModel]) @ApiProperty({ type: [SharedNamespaceModel] }) sharedNamespaces: SharedNamespaceModel[];
  @Field({ description: 'true while the Docker Engine does not answer: identity and state are what it last said (limits and usage are still read from the kernel)' })
  @ApiProperty({ description: 'true while the Docker Engine does not answer: identity and state are what it last said (limits and usage are still read from the kernel)' })
  stale: boolean;
  @ApiProperty({ required: false, description: "GET one container: the version of its limits (the engine's and the kernel's values; usage does not move it): send it as If-Match" }) limitsVersion?: string;
}

const USAGE = "the cgroup's memory usage, page cache included (v1 memory.usage_in_bytes, v2 memory.current); cAdvisor's container_memory_usage_bytes. Not what docker stats calls usage: that is workingSet";
const LIMIT = "the cgroup's memory limit in bytes; null = unlimited";
const WORKING_SET =
  "usage minus inactive file pages (v1 total_inactive_file, v2 inactive_file): what docker stats shows as MEM USAGE, and cAdvisor's container_memory_working_set_bytes";
const MEM_PERCENT =
  "docker stats' MEM %: workingSet as a percent of the limit, or of the host's memory (MemTotal) when the container is unlimited or its limit is above it";

@ObjectType('ContainerMemoryStats', { description: 'memory as docker stats shows it, from the cgroup files' })
export class ContainerMemoryStatsModel {
  @Field(() => Int64Scalar, { nullable: true, description: USAGE })
  @ApiProperty({ type: Number, nullable: true, description: USAGE })
  usage: number | null;
  @Field(() => Int64Scalar, { nullable: true, description: LIMIT })
  @ApiProperty({ type: Number, nullable: true, description: LIMIT })
  limit: number | null;
  @Field(() => Int64Scalar, { nullable: true, description: WORKING_SET })
  @ApiProperty({ type: Number, nullable: true, description: WORKING_SET })
  workingSet: number | null;
  @Field(() => Float, { nullable: true, description: MEM_PERCENT })
  @ApiProperty({ type: Number, format: 'double', nullable: true, description: MEM_PERCENT })
  percent: number | null;
}

const NET = (what: string) => `${what}, summed over the interfaces of its network namespace but loopback (/proc/PID/net/dev)`;

@ObjectType('ContainerNetworkStats', {
  description:
    "docker stats' NET I/O: the counters of the container's own network namespace. null when it uses the host's network namespace (the counters would be the host's) or it cannot be read",
})
export class ContainerNetworkStatsModel {
  @Field(() => Int64Scalar, { description: NET('bytes received') }) @ApiProperty({ type: Number, description: NET('bytes received') }) rxBytes: number;
  @Field(() => Int64Scalar, { description: NET('bytes sent') }) @ApiProperty({ type: Number, description: NET('bytes sent') }) txBytes: number;
  @Field(() => Int64Scalar, { description: NET('packets received') }) @ApiProperty({ type: Number, description: NET('packets received') }) rxPackets: number;
  @Field(() => Int64Scalar, { description: NET('packets sent') }) @ApiProperty({ type: Number, description: NET('packets sent') }) txPackets: number;
  @Field(() => Int64Scalar, { description: NET('receive errors') }) @ApiProperty({ type: Number, description: NET('receive errors') }) rxErrors: number;
  @Field(() => Int64Scalar, { description: NET('transmit errors') }) @ApiProperty({ type: Number, description: NET('transmit errors') }) txErrors: number;
  @Field(() => Int64Scalar, { description: NET('received packets dropped') }) @ApiProperty({ type: Number, description: NET('received packets dropped') }) rxDropped: number;
  @Field(() => Int64Scalar, { description: NET('packets to send dropped') }) @ApiProperty({ type: Number, description: NET('packets to send dropped') }) txDropped: number;
}

@ObjectType('ContainerCpuStats')
export class ContainerCpuStatsModel {
  @Field(() => Float, { nullable: true }) @ApiProperty({ type: Number, format: 'double', nullable: true, description: 'as docker stats computes it (100 = one CPU); null until a first sample exists' }) percent: number | null;
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

@ObjectType('ContainerStats', {
  description:
    "what docker stats shows, by its names: MEM USAGE = memory.workingSet, LIMIT = memory.limit (the host's memory when null), MEM % = memory.percent, CPU % = cpu.percent, NET I/O = network.rxBytes / txBytes, BLOCK I/O = blkio, PIDS = pids.current",
})
export class ContainerStatsModel {
  @Field() @ApiProperty() id: string;
  @Field() @ApiProperty() name: string;
  @Field(() => ContainerMemoryStatsModel) @ApiProperty({ type: ContainerMemoryStatsModel }) memory: ContainerMemoryStatsModel;
  @Field(() => ContainerCpuStatsModel) @ApiProperty({ type: ContainerCpuStatsModel }) cpu: ContainerCpuStatsModel;
  @Field(() => ContainerPidsStatsModel) @ApiProperty({ type: ContainerPidsStatsModel }) pids: ContainerPidsStatsModel;
  @Field(() => ContainerBlkioStatsModel) @ApiProperty({ type: ContainerBlkioStatsModel }) blkio: ContainerBlkioStatsModel;
  @Field(() => ContainerNetworkStatsModel, { nullable: true, description: 'null when it uses the host network namespace' })
  @ApiProperty({ type: ContainerNetworkStatsModel, nullable: true, description: 'null when it uses the host network namespace' })
  network: ContainerNetworkStatsModel | null;
  @Field() @ApiProperty({ description: 'ISO 8601' }) readAt: string;
  @Field({ description: 'true for a reading replayed from history (the containerStats subscription with since): one second\'s values, no limits, memory percent, usageNs, blkio or network' })
  @ApiProperty({ description: 'true for a reading replayed from history (the containerStats subscription with since); false for a live reading' })
  fromHistory: boolean;
}

/** GET /v1/containers?stats=true: each container with its stats. */
export class ContainerWithStatsModel extends ContainerModel {
  @ApiProperty({ type: ContainerStatsModel, nullable: true, required: false, description: 'only with ?stats=true; null while it is not running' }) stats?: ContainerStatsModel | null;
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
  @Field({ description: CHANGE_ANSWER_DOCS.target }) @ApiProperty({ description: CHANGE_ANSWER_DOCS.target }) target: string;
  @Field({ description: CHANGE_ANSWER_DOCS.dryRun }) @ApiProperty({ description: CHANGE_ANSWER_DOCS.dryRun }) dryRun: boolean;
  @Field({ description: CHANGE_ANSWER_DOCS.version }) @ApiProperty({ description: CHANGE_ANSWER_DOCS.version }) version: string;
  @Field(() => [EngineWriteModel], { description: CHANGE_ANSWER_DOCS.writes }) @ApiProperty({ type: [EngineWriteModel], description: CHANGE_ANSWER_DOCS.writes }) writes: EngineWriteModel[];
  @Field(() => [PreflightFindingModel], { nullable: true, description: CHANGE_ANSWER_DOCS.findings }) @ApiProperty({ type: [PreflightFindingModel], required: false, description: CHANGE_ANSWER_DOCS.findings }) findings?: PreflightFindingModel[];
  @Field(() => [LimitWriteModel], { nullable: true, description: CHANGE_ANSWER_DOCS.stages })
  @ApiProperty({ type: [LimitWriteModel], required: false, description: CHANGE_ANSWER_DOCS.stages })
  stages?: LimitWriteModel[];
  @Field(() => LeaseRefModel, { nullable: true, description: 'the lease this change made (ttlSeconds; a dry run: would make, id null); absent without one' })
  @ApiPropertyOptional({ type: LeaseRefModel, description: 'the lease this change made (ttlSeconds; a dry run: would make, id null); absent without one' })
  lease?: LeaseRefModel;
}

@ObjectType('ContainerReconcile', { description: "the engine's limits put back into the kernel where they had drifted" })
export class ContainerReconcileModel {
  @Field() @ApiProperty() id: string;
  @Field({ description: CHANGE_ANSWER_DOCS.target }) @ApiProperty({ description: CHANGE_ANSWER_DOCS.target }) target: string;
  @Field({ description: 'true: nothing was written; writes is the plan' }) @ApiProperty({ description: 'true: nothing was written; writes is the plan' }) dryRun: boolean;
  @Field({ description: "the container's limits version after (a dry run: the current one): the engine's and the kernel's values" })
  @ApiProperty({ description: "the container's limits version after (a dry run: the current one); REST sends it as the ETag too" })
  version: string;
  @Field(() => [LimitDriftModel], { description: 'the drift found (and removed); [] when there was none and nothing was written' }) @ApiProperty({ type: [LimitDriftModel] }) drift: LimitDriftModel[];
  @Field(() => LimitsModel) @ApiProperty({ type: LimitsModel, description: 'the kernel, before' }) before: LimitsModel;
  @Field(() => LimitsModel) @ApiProperty({ type: LimitsModel, description: 'the kernel, read back after' }) after: LimitsModel;
  @Field(() => EngineLimitsModel) @ApiProperty({ type: EngineLimitsModel, description: 'what the engine holds: the values written' }) engine: EngineLimitsModel;
  @Field(() => [LimitWriteModel], { description: "the cgroup files written into the container's cgroup (a dry run: would be), in order, old → new" })
  @ApiProperty({ type: [LimitWriteModel], description: "the cgroup files written into the container's cgroup (a dry run: would be), in order, old → new" })
  writes: LimitWriteModel[];
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
