import { Field, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty } from '@nestjs/swagger';
import { LimitsModel, StatsModel } from '../cgroups/cgroup.models.js';
import { JsonScalar } from '../common/scalars/json.scalar.js';

@ObjectType('ExecTarget')
export class ExecTargetModel {
  @Field(() => Int) @ApiProperty() pid: number;
  @Field() @ApiProperty({ description: 'ISO 8601; the process entered is the one that started then' }) startTime: string;
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
  @Field() @ApiProperty() stdout: string;
  @Field() @ApiProperty() stderr: string;
  @Field(() => LimitsModel, { nullable: true }) @ApiProperty({ type: LimitsModel, nullable: true }) limits: LimitsModel | null;
  @Field(() => StatsModel, { nullable: true }) @ApiProperty({ type: StatsModel, nullable: true }) stats: StatsModel | null;
}

export class SandboxListModel {
  @ApiProperty({ type: [SandboxModel] }) items: SandboxModel[];
  @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}
