import { Field, Float, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty } from '@nestjs/swagger';
import { Int64Scalar } from '../common/scalars/int64.scalar.js';
import { CHANGE_ANSWER_DOCS, LimitWriteModel, PreflightFindingModel } from '../changes/change.models.js';

const n = { type: Number, nullable: true } as const;

@ObjectType('MemoryLimits')
export class MemoryLimitsModel {
  @Field(() => Int64Scalar, { nullable: true, description: 'bytes; null = unlimited' }) @ApiProperty({ ...n, description: 'bytes; null = unlimited' }) max: number | null;
  @Field(() => Int64Scalar, { nullable: true, description: 'v2 memory.high; always null on v1' }) @ApiProperty({ ...n, description: 'v2 memory.high; always null on v1' }) high: number | null;
  @Field(() => Int64Scalar, { nullable: true, description: 'swap only (v1: memsw minus max)' }) @ApiProperty({ ...n, description: 'swap only (v1: memsw minus max)' }) swapMax: number | null;
}

@ObjectType('CpuLimits')
export class CpuLimitsModel {
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ ...n, description: 'µs per period; null = no quota' }) quotaUs: number | null;
  @Field(() => Int64Scalar) @ApiProperty() periodUs: number;
  @Field(() => Int) @ApiProperty({ description: 'v2 cpu.weight (on v1 converted from shares)' }) weight: number;
  @Field(() => Int) @ApiProperty({ description: 'v1 cpu.shares (on v2 converted from weight)' }) shares: number;
}

@ObjectType('PidsLimits')
export class PidsLimitsModel {
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) max: number | null;
}

@ObjectType('CpusetLimits')
export class CpusetLimitsModel {
  @Field({ description: 'as asked (cpuset.cpus); on v2 "" means whatever the parent allows' }) @ApiProperty({ example: '0-1', description: 'as asked (cpuset.cpus); on v2 "" means whatever the parent allows' }) cpus: string;
  @Field({ description: 'as asked (cpuset.mems)' }) @ApiProperty({ example: '0', description: 'as asked (cpuset.mems)' }) mems: string;
  @Field(() => String, { nullable: true, description: 'in effect, read only: v2 cpuset.cpus.effective (a child asking for more than its parent has is clipped), v1 cpuset.effective_cpus' })
  @ApiProperty({ type: String, nullable: true, example: '0', description: 'in effect, read only: v2 cpuset.cpus.effective (a child asking for more than its parent has is clipped), v1 cpuset.effective_cpus' })
  effectiveCpus: string | null;
  @Field(() => String, { nullable: true, description: 'in effect, read only: v2 cpuset.mems.effective, v1 cpuset.effective_mems' })
  @ApiProperty({ type: String, nullable: true, example: '0', description: 'in effect, read only: v2 cpuset.mems.effective, v1 cpuset.effective_mems' })
  effectiveMems: string | null;
}

@ObjectType('Limits', { description: 'As the kernel reads them back; a group is absent where no controller serves it' })
export class LimitsModel {
  @Field(() => MemoryLimitsModel, { nullable: true }) @ApiProperty({ type: MemoryLimitsModel, required: false }) memory?: MemoryLimitsModel;
  @Field(() => CpuLimitsModel, { nullable: true }) @ApiProperty({ type: CpuLimitsModel, required: false }) cpu?: CpuLimitsModel;
  @Field(() => PidsLimitsModel, { nullable: true }) @ApiProperty({ type: PidsLimitsModel, required: false }) pids?: PidsLimitsModel;
  @Field(() => CpusetLimitsModel, { nullable: true }) @ApiProperty({ type: CpusetLimitsModel, required: false }) cpuset?: CpusetLimitsModel;
}

const SWAP = 'swap in use, in bytes: v1 memory.stat total_swap (null without swap accounting), v2 memory.swap.current';

@ObjectType('MemoryStats')
export class MemoryStatsModel {
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) usage: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) peak: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) limit: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) failcnt: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) oomEvents: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) oomKills: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) anon: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) file: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) kernel: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) inactiveFile: number | null;
  @Field(() => Int64Scalar, { nullable: true, description: SWAP }) @ApiProperty({ ...n, description: SWAP }) swap: number | null;
}

@ObjectType('CpuStats')
export class CpuStatsModel {
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) usageNs: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) userNs: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) systemNs: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) nrPeriods: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) nrThrottled: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) throttledUs: number | null;
}

@ObjectType('PidsStats')
export class PidsStatsModel {
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) current: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty(n) max: number | null;
}

@ObjectType('PressureLine')
export class PressureLineModel {
  @Field(() => Float) @ApiProperty({ format: 'double', description: 'percent' }) avg10: number;
  @Field(() => Float) @ApiProperty({ format: 'double', description: 'percent' }) avg60: number;
  @Field(() => Float) @ApiProperty({ format: 'double', description: 'percent' }) avg300: number;
  @Field(() => Int64Scalar) @ApiProperty({ description: 'µs' }) total: number;
}

@ObjectType('Pressure')
export class PressureFileModel {
  @Field(() => PressureLineModel, { nullable: true }) @ApiProperty({ type: PressureLineModel, nullable: true }) some: PressureLineModel | null;
  @Field(() => PressureLineModel, { nullable: true }) @ApiProperty({ type: PressureLineModel, nullable: true }) full: PressureLineModel | null;
}

@ObjectType('PressureStats', { description: 'PSI from the cgroup\'s *.pressure files, where the kernel has them' })
export class PressureStatsModel {
  @Field(() => PressureFileModel, { nullable: true }) @ApiProperty({ type: PressureFileModel, nullable: true }) cpu: PressureFileModel | null;
  @Field(() => PressureFileModel, { nullable: true }) @ApiProperty({ type: PressureFileModel, nullable: true }) memory: PressureFileModel | null;
  @Field(() => PressureFileModel, { nullable: true }) @ApiProperty({ type: PressureFileModel, nullable: true }) io: PressureFileModel | null;
}

@ObjectType('IoStats')
export class IoStatsModel {
  @Field(() => Int64Scalar) @ApiProperty() readBytes: number;
  @Field(() => Int64Scalar) @ApiProperty() writeBytes: number;
}

@ObjectType('Stats')
export class StatsModel {
  @Field(() => MemoryStatsModel, { nullable: true }) @ApiProperty({ type: MemoryStatsModel, required: false }) memory?: MemoryStatsModel;
  @Field(() => CpuStatsModel, { nullable: true }) @ApiProperty({ type: CpuStatsModel, required: false }) cpu?: CpuStatsModel;
  @Field(() => PidsStatsModel, { nullable: true }) @ApiProperty({ type: PidsStatsModel, required: false }) pids?: PidsStatsModel;
  @Field(() => PressureStatsModel, { nullable: true }) @ApiProperty({ type: PressureStatsModel, required: false }) pressure?: PressureStatsModel;
  @Field(() => IoStatsModel, { nullable: true }) @ApiProperty({ type: IoStatsModel, required: false }) io?: IoStatsModel;
}

@ObjectType('Cgroup')
export class CgroupModel {
  @Field() @ApiProperty({ example: '/nsgate/batch' }) path: string;
  @Field(() => [String]) @ApiProperty({ type: [String], description: 'hierarchies it exists in (memory, cpu, unified, ...)' }) hierarchies: string[];
  @Field(() => [String]) @ApiProperty({ type: [String] }) controllers: string[];
  @Field(() => String, { nullable: true, description: 'v2 cgroup.type: domain, domain threaded (a thread root), domain invalid (holds no process), threaded; null where only v1 has the cgroup, and for the root' })
  @ApiProperty({ type: String, nullable: true, example: 'domain', description: 'v2 cgroup.type: domain, domain threaded (a thread root), domain invalid (holds no process), threaded; null where only v1 has the cgroup, and for the root' })
  type: string | null;
  @Field(() => LimitsModel) @ApiProperty({ type: LimitsModel }) limits: LimitsModel;
  @Field(() => StatsModel) @ApiProperty({ type: StatsModel }) stats: StatsModel;
  @Field(() => [Int], { name: 'pids' }) @ApiProperty({ type: [Number], description: 'pids in cgroup.procs, across hierarchies' }) processes: number[];
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true, enum: ['thawed', 'freezing', 'frozen'] }) freezer: string | null;
  @ApiProperty({ required: false, description: 'the version of its limits (a hash of what the kernel holds; usage does not move it): send it as If-Match' }) limitsVersion?: string;
}

@ObjectType('CgroupNode')
export class CgroupNodeModel {
  @Field() @ApiProperty() path: string;
  @Field(() => Int) @ApiProperty({ description: '0 for the `under` cgroup' }) depth: number;
  @Field(() => [String]) @ApiProperty({ type: [String] }) controllers: string[];
  @Field(() => Int) @ApiProperty() processCount: number;
}

@ObjectType('CgroupPage')
export class CgroupPageModel {
  @Field(() => [CgroupNodeModel]) @ApiProperty({ type: [CgroupNodeModel] }) items: CgroupNodeModel[];
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
  @Field() @ApiProperty({ description: 'the walk stopped at 10,000 nodes' }) truncated: boolean;
}

@ObjectType('LimitsChange')
export class LimitsChangeModel {
  @Field(() => LimitsModel) @ApiProperty({ type: LimitsModel }) before: LimitsModel;
  @Field(() => LimitsModel) @ApiProperty({ type: LimitsModel, description: 'as the kernel reads it back (8000000 reads 7999488 on a 4 KiB page kernel)' }) after: LimitsModel;
  @Field({ description: CHANGE_ANSWER_DOCS.target }) @ApiProperty({ description: CHANGE_ANSWER_DOCS.target }) target: string;
  @Field({ description: CHANGE_ANSWER_DOCS.dryRun }) @ApiProperty({ description: CHANGE_ANSWER_DOCS.dryRun }) dryRun: boolean;
  @Field({ description: CHANGE_ANSWER_DOCS.version }) @ApiProperty({ description: CHANGE_ANSWER_DOCS.version }) version: string;
  @Field(() => [LimitWriteModel], { description: CHANGE_ANSWER_DOCS.writes }) @ApiProperty({ type: [LimitWriteModel], description: CHANGE_ANSWER_DOCS.writes }) writes: LimitWriteModel[];
  @Field(() => [PreflightFindingModel], { nullable: true, description: CHANGE_ANSWER_DOCS.findings }) @ApiProperty({ type: [PreflightFindingModel], required: false, description: CHANGE_ANSWER_DOCS.findings }) findings?: PreflightFindingModel[];
}

@ObjectType('CgroupAction')
export class CgroupActionModel {
  @Field() @ApiProperty() path: string;
  @Field() @ApiProperty({ enum: ['moved', 'frozen', 'thawed', 'killed', 'deleted'] }) result: string;
  @Field(() => Int, { nullable: true }) @ApiProperty({ type: Number, nullable: true, required: false, description: 'processes: the pid moved' }) pid?: number | null;
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true, required: false, description: 'freeze, thaw: the freezer state read back' }) freezer?: string | null;
  @Field(() => [Int], { nullable: true }) @ApiProperty({ type: [Number], nullable: true, required: false, description: 'kill: pids nsgate signalled itself' }) signalled?: number[] | null;
  @Field(() => Boolean, { nullable: true }) @ApiProperty({ type: Boolean, nullable: true, required: false, description: 'kill: v2 cgroup.kill did the work' }) viaCgroupKill?: boolean | null;
}
