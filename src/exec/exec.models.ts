import { Field, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { LimitsModel, StatsModel } from '../cgroups/cgroup.models.js';
import { Int64Scalar } from '../common/scalars/int64.scalar.js';
import { JsonScalar } from '../common/scalars/json.scalar.js';

@ObjectType('ExecTarget')
export class ExecTargetModel {
  @Field(() => Int) @ApiProperty() pid: number;
  @Field() @ApiProperty({ description: 'ISO 8601; the process entered is the one that started then' }) startTime: string;
}

@ObjectType('ExecCapabilities')
export class ExecCapabilitiesModel {
  @Field() @ApiProperty({ example: '0000000000000000' }) inheritable: string;
  @Field() @ApiProperty({ example: '00000000a80425fb' }) permitted: string;
  @Field() @ApiProperty({ example: '00000000a80425fb' }) effective: string;
  @Field() @ApiProperty({ example: '00000000a80425fb' }) bounding: string;
  @Field() @ApiProperty({ example: '0000000000000000' }) ambient: string;
}

@ObjectType('ExecSeccomp')
export class ExecSeccompModel {
  @Field(() => Int) @ApiProperty({ description: '0 none, 2 filter' }) mode: number;
  @Field(() => Int) @ApiProperty({ description: 'filters installed, in the target\'s order' }) filters: number;
}

@ObjectType('ExecConfinement', { description: 'Which confinement the command ran with' })
export class ExecConfinementModel {
  @Field() @ApiProperty({ enum: ['target', 'privileged'], description: "target: the target process's own, read from the kernel at pin time (the default); privileged: host root with every capability (nsenter's semantics)" })
  mode: 'target' | 'privileged';
  @Field(() => [Int64Scalar], { nullable: true }) @ApiPropertyOptional({ type: [Number], description: 'real, effective, saved, filesystem uid' }) uid?: number[];
  @Field(() => [Int64Scalar], { nullable: true }) @ApiPropertyOptional({ type: [Number] }) gid?: number[];
  @Field(() => [Int64Scalar], { nullable: true }) @ApiPropertyOptional({ type: [Number] }) groups?: number[];
  @Field(() => ExecCapabilitiesModel, { nullable: true }) @ApiPropertyOptional({ type: ExecCapabilitiesModel, description: 'set before execve, which transforms them as it did for the target' }) capabilities?: ExecCapabilitiesModel;
  @Field(() => Boolean, { nullable: true }) @ApiPropertyOptional() noNewPrivs?: boolean;
  @Field(() => ExecSeccompModel, { nullable: true }) @ApiPropertyOptional({ type: ExecSeccompModel }) seccomp?: ExecSeccompModel;
  @Field(() => String, { nullable: true }) @ApiPropertyOptional({ type: String, nullable: true, description: 'AppArmor profile or SELinux context given at execve; null without an LSM label' }) lsmLabel?: string | null;
  @Field(() => Int, { nullable: true }) @ApiPropertyOptional() oomScoreAdj?: number;
  @Field(() => Int, { nullable: true }) @ApiPropertyOptional({ description: 'rlimits copied (never above nsgate\'s own hard limits)' }) rlimits?: number;
  @Field(() => Int, { nullable: true }) @ApiPropertyOptional({ description: 'cgroup hierarchies the command joined the target in' }) cgroups?: number;
}

@ObjectType('ExecResult')
export class ExecResultModel {
  @Field(() => Int, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) exitCode: number | null;
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true, example: 'SIGKILL' }) signal: string | null;
  @Field() @ApiProperty() stdout: string;
  @Field() @ApiProperty() stderr: string;
  @Field() @ApiProperty({ description: 'a stream passed maxOutputBytes: cut there, and the command killed' }) truncated: boolean;
  @Field() @ApiProperty() timedOut: boolean;
  @Field(() => Int) @ApiProperty() durationMs: number;
  @Field(() => JsonScalar) @ApiProperty({ type: 'object', additionalProperties: { type: 'number' }, description: 'type → inode of each namespace entered' }) namespaces: Record<string, number>;
  @Field(() => ExecTargetModel) @ApiProperty({ type: ExecTargetModel }) target: ExecTargetModel;
  @Field(() => ExecConfinementModel) @ApiProperty({ type: ExecConfinementModel }) confinement: ExecConfinementModel;
}

@ObjectType('SandboxUserns')
export class SandboxUsernsModel {
  @Field(() => Int64Scalar) @ApiProperty() base: number;
  @Field(() => Int) @ApiProperty() count: number;
}

@ObjectType('Sandbox')
export class SandboxModel {
  @Field() @ApiProperty() id: string;
  @Field() @ApiProperty() cgroupPath: string;
  @Field() @ApiProperty({ enum: ['starting', 'running', 'exited', 'killed', 'oom-killed'] }) state: string;
  @Field(() => Int, { nullable: true }) @ApiProperty({ type: Number, nullable: true, description: 'host pid of its first process' }) pid: number | null;
  @Field(() => [String]) @ApiProperty({ type: [String] }) argv: string[];
  @Field() @ApiProperty() createdAt: string;
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true }) finishedAt: string | null;
  @Field(() => Int, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) exitCode: number | null;
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true }) signal: string | null;
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true, enum: ['delete', 'timeout', 'output'] }) killedBy: string | null;
  @Field() @ApiProperty() truncated: boolean;
}

@ObjectType('SandboxDetail')
export class SandboxDetailModel extends SandboxModel {
  @Field(() => [String]) @ApiProperty({ type: [String] }) namespaces: string[];
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true }) hostname: string | null;
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true }) rootfs: string | null;
  @Field(() => [String]) @ApiProperty({ type: [String], description: 'capabilities kept' }) capabilities: string[];
  @Field() @ApiProperty() noNewPrivs: boolean;
  @Field() @ApiProperty() readOnlyRoot: boolean;
  @Field(() => SandboxUsernsModel, { nullable: true }) @ApiProperty({ type: SandboxUsernsModel, nullable: true, description: 'its user namespace: ids 0.. inside are base.. on the host' }) userns: SandboxUsernsModel | null;
  @Field() @ApiProperty() stdout: string;
  @Field() @ApiProperty() stderr: string;
  @Field(() => LimitsModel, { nullable: true }) @ApiProperty({ type: LimitsModel, nullable: true }) limits: LimitsModel | null;
  @Field(() => StatsModel, { nullable: true }) @ApiProperty({ type: StatsModel, nullable: true }) stats: StatsModel | null;
}

export class SandboxListModel {
  @ApiProperty({ type: [SandboxModel] }) items: SandboxModel[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}
