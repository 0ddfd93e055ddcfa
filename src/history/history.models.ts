import { Field, Float, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty } from '@nestjs/swagger';
import { Int64Scalar } from '../common/scalars/int64.scalar.js';
import { JsonScalar } from '../common/scalars/json.scalar.js';
import { listCost } from '../graphql/query-cost.js';

@ObjectType('MinAvgMax', { description: 'one metric over one step: null where nothing was recorded' })
export class MinAvgMaxModel {
  @Field(() => Float, { nullable: true }) @ApiProperty({ type: Number, format: 'double', nullable: true }) min: number | null;
  @Field(() => Float, { nullable: true }) @ApiProperty({ type: Number, format: 'double', nullable: true }) avg: number | null;
  @Field(() => Float, { nullable: true }) @ApiProperty({ type: Number, format: 'double', nullable: true }) max: number | null;
}

const metric = (description: string) => [Field(() => MinAvgMaxModel, { description }), ApiProperty({ type: MinAvgMaxModel, description })] as const;
function Metric(description: string): PropertyDecorator {
  return (target, key) => {
    for (const d of metric(description)) d(target, key);
  };
}

@ObjectType('HistoryPoint')
export class HistoryPointModel {
  @Field({ description: 'start of the step (ISO 8601)' }) @ApiProperty({ example: '2026-12-02T15:40:00.000Z' }) at: string;
  @Metric('cpu used, in cores (1 = one cpu busy)') cpu: MinAvgMaxModel;
  @Metric('share of CFS periods throttled (0..1)') cpuThrottled: MinAvgMaxModel;
  @Metric('memory usage, bytes') memoryUsage: MinAvgMaxModel;
  @Metric('usage minus inactive file, bytes') workingSet: MinAvgMaxModel;
  @Metric('times the memory limit was hit, per second recorded (avg × step = count)') memoryFailcnt: MinAvgMaxModel;
  @Metric('OOM kills per second recorded (avg × step = count)') oomKills: MinAvgMaxModel;
  @Metric('pids.current') pids: MinAvgMaxModel;
  @Metric('PSI cpu "some": share of time stalled (0..1)') cpuPressureSome: MinAvgMaxModel;
  @Metric('PSI cpu "full"') cpuPressureFull: MinAvgMaxModel;
  @Metric('PSI memory "some"') memoryPressureSome: MinAvgMaxModel;
  @Metric('PSI memory "full"') memoryPressureFull: MinAvgMaxModel;
  @Metric('PSI io "some"') ioPressureSome: MinAvgMaxModel;
  @Metric('PSI io "full"') ioPressureFull: MinAvgMaxModel;
}

@ObjectType('History')
export class HistoryModel {
  @Field({ description: 'cgroup:<path> or container:<id>' }) @ApiProperty({ example: 'cgroup:/nsgate/batch' }) target: string;
  @Field() @ApiProperty({ example: '/nsgate/batch' }) cgroupPath: string;
  @Field({ description: 'second (the 10-minute ring) or minute (the 24-hour ring of per-minute min/avg/max)' }) @ApiProperty({ enum: ['second', 'minute'] }) resolution: string;
  @Field(() => Int) @ApiProperty({ example: 1 }) stepSeconds: number;
  @Field() @ApiProperty() from: string;
  @Field() @ApiProperty() to: string;
  @Field(() => String, { nullable: true, description: 'first sample nsgate holds for this cgroup (history starts again when nsgate restarts)' })
  @ApiProperty({ type: String, nullable: true })
  trackedSince: string | null;
  @Field({ description: 'false once the cgroup went away (what was recorded stays readable for 10 minutes)' }) @ApiProperty() tracked: boolean;
  @Field() @ApiProperty({ example: 'in memory only: nsgate keeps no history across restarts' }) note: string;
  // priced as the default answer's length (10 minutes at 1 s); the limits plugin also counts the fields really resolved
  @Field(() => [HistoryPointModel], { description: 'oldest first: 601 at most per second, 1441 per minute', complexity: listCost(601) })
  @ApiProperty({ type: [HistoryPointModel] })
  points: HistoryPointModel[];
}

@ObjectType('MemoryLimitsPair')
export class MemoryLimitsPairModel {
  @Field(() => Int64Scalar, { nullable: true, description: 'bytes; null = unlimited' }) @ApiProperty({ type: Number, nullable: true, description: 'bytes; null = unlimited' }) max: number | null;
  @Field(() => Int64Scalar, { nullable: true, description: 'bytes; null = unlimited (always null on cgroup v1)' })
  @ApiProperty({ type: Number, nullable: true, description: 'bytes; null = unlimited (always null on cgroup v1)' })
  high: number | null;
}

@ObjectType('CpuLimitsTriple')
export class CpuLimitsTripleModel {
  @Field(() => Int64Scalar, { nullable: true, description: 'µs per period; null = no quota' }) @ApiProperty({ type: Number, nullable: true, description: 'µs per period; null = no quota' }) quotaUs: number | null;
  @Field(() => Int64Scalar, { description: 'µs' }) @ApiProperty({ description: 'µs' }) periodUs: number;
  @Field(() => Int) @ApiProperty() weight: number;
}

@ObjectType('MemoryRecommendation')
export class MemoryRecommendationModel {
  @Field(() => MemoryLimitsPairModel) @ApiProperty({ type: MemoryLimitsPairModel }) current: MemoryLimitsPairModel;
  @Field(() => MemoryLimitsPairModel, { nullable: true, description: 'null when confidence is none' }) @ApiProperty({ type: MemoryLimitsPairModel, nullable: true }) recommended: MemoryLimitsPairModel | null;
  @Field(() => JsonScalar, { description: 'window, workingSet {p50,p95,p99,max}, workingSetPeak, usagePeak, failcnt, oomKills, pressureSome/Full {avg,max}, headroomBytes' })
  @ApiProperty({ type: 'object', additionalProperties: true })
  evidence: Record<string, unknown>;
  @Field({ description: 'the current limit causes the failcnt, OOM kills or pressure seen' }) @ApiProperty() limitIsCause: boolean;
  @Field({ description: 'none (too little history: nothing recommended), low, medium, high' }) @ApiProperty({ enum: ['none', 'low', 'medium', 'high'] }) confidence: string;
  @Field(() => [String]) @ApiProperty({ type: [String] }) reasons: string[];
}

@ObjectType('CpuRecommendation')
export class CpuRecommendationModel {
  @Field(() => CpuLimitsTripleModel, { nullable: true }) @ApiProperty({ type: CpuLimitsTripleModel, nullable: true }) current: CpuLimitsTripleModel | null;
  @Field(() => CpuLimitsTripleModel, { nullable: true, description: 'null when confidence is none' }) @ApiProperty({ type: CpuLimitsTripleModel, nullable: true }) recommended: CpuLimitsTripleModel | null;
  @Field(() => JsonScalar, { description: 'window, usageCores {p50,p95,p99,max}, throttledShare, throttledSecondsShare, pressureSome {avg,max}' })
  @ApiProperty({ type: 'object', additionalProperties: true })
  evidence: Record<string, unknown>;
  @Field({ description: 'the current quota causes the throttling seen' }) @ApiProperty() limitIsCause: boolean;
  @Field({ description: 'none (too little history: nothing recommended), low, medium, high' }) @ApiProperty({ enum: ['none', 'low', 'medium', 'high'] }) confidence: string;
  @Field(() => [String]) @ApiProperty({ type: [String] }) reasons: string[];
}

@ObjectType('Recommendation')
export class RecommendationModel {
  @Field() @ApiProperty({ example: 'container:4f1c…' }) target: string;
  @Field() @ApiProperty() cgroupPath: string;
  @Field(() => MemoryRecommendationModel, { nullable: true, description: 'null when the cgroup has no memory controller' }) @ApiProperty({ type: MemoryRecommendationModel, nullable: true }) memory: MemoryRecommendationModel | null;
  @Field(() => CpuRecommendationModel, { nullable: true, description: 'null when the cgroup has no cpu controller' }) @ApiProperty({ type: CpuRecommendationModel, nullable: true }) cpu: CpuRecommendationModel | null;
  @Field({ description: 'always false: nsgate never applies a recommendation' }) @ApiProperty({ example: false }) applied: boolean;
}
