import { Field, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { ApiProperty } from '@nestjs/swagger';
import { Int64Scalar } from '../common/scalars/int64.scalar.js';
import { NAMESPACE_TYPES, type NamespaceType } from '../kernel/procfs/namespace-types.js';

export const NamespaceTypeEnum = Object.fromEntries(NAMESPACE_TYPES.map((t) => [t, t])) as Record<NamespaceType, NamespaceType>;
registerEnumType(NamespaceTypeEnum, { name: 'NamespaceType', description: 'The eight namespace types the kernel shows in /proc/PID/ns' });

@ObjectType('NamespaceInodes', { description: 'The inode of each of a process\'s namespaces; null where the link cannot be read' })
export class NamespaceInodesModel {
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) cgroup: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) ipc: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) mnt: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) net: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) pid: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) time: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) user: number | null;
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) uts: number | null;
}

@ObjectType('ProcessCgroup')
export class ProcessCgroupModel {
  @Field(() => Int) @ApiProperty({ description: 'hierarchy id from /proc/PID/cgroup (0 is the unified tree)' }) hierarchy: number;
  @Field(() => [String]) @ApiProperty({ type: [String] }) controllers: string[];
  @Field() @ApiProperty({ example: '/docker/4f1c…' }) path: string;
}

@ObjectType('Process')
export class ProcessModel {
  @Field(() => Int) @ApiProperty() pid: number;
  @Field(() => Int) @ApiProperty() ppid: number;
  @Field() @ApiProperty({ description: 'ISO 8601' }) startTime: string;
  @Field() @ApiProperty({ description: 'effective user, as ps shows it' }) user: string;
  @Field(() => Int64Scalar) @ApiProperty() uid: number;
  @Field() @ApiProperty() comm: string;
  @Field(() => [String]) @ApiProperty({ type: [String], description: '[] for kernel threads and zombies' }) cmdline: string[];
  @Field() @ApiProperty({ example: 'S' }) state: string;
  @Field(() => Int) @ApiProperty() threads: number;
  @Field() @ApiProperty() kernelThread: boolean;
  @Field(() => NamespaceInodesModel) @ApiProperty({ type: NamespaceInodesModel }) namespaces: NamespaceInodesModel;
  @Field(() => [ProcessCgroupModel]) @ApiProperty({ type: [ProcessCgroupModel] }) cgroups: ProcessCgroupModel[];
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true, description: 'recognised from the cgroup path' }) containerId: string | null;
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true, example: 'docker' }) containerRuntime: string | null;
  @Field(() => [Int]) @ApiProperty({ type: [Number], description: 'the pid in each pid namespace, from the host\'s down to its own' }) nspid: number[];
}

@ObjectType('ProcessPage')
export class ProcessPageModel {
  @Field(() => [ProcessModel]) @ApiProperty({ type: [ProcessModel] }) items: ProcessModel[];
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}

@ObjectType('Ancestor')
export class AncestorModel {
  @Field(() => Int) @ApiProperty() pid: number;
  @Field() @ApiProperty() comm: string;
  @Field(() => [String]) @ApiProperty({ type: [String] }) cmdline: string[];
}

@ObjectType('IdSetOfStatus')
export class StatusIdsModel {
  @Field(() => Int64Scalar) @ApiProperty() real: number;
  @Field(() => Int64Scalar) @ApiProperty() effective: number;
  @Field(() => Int64Scalar) @ApiProperty() saved: number;
  @Field(() => Int64Scalar) @ApiProperty() filesystem: number;
}

@ObjectType('ProcessStatus')
export class ProcessStatusModel {
  @Field() @ApiProperty({ example: 'sleeping' }) stateName: string;
  @Field(() => Int) @ApiProperty() tgid: number;
  @Field(() => StatusIdsModel) @ApiProperty({ type: StatusIdsModel }) uid: StatusIdsModel;
  @Field(() => StatusIdsModel) @ApiProperty({ type: StatusIdsModel }) gid: StatusIdsModel;
  @Field(() => Int, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) seccomp: number | null;
  @Field(() => Boolean, { nullable: true }) @ApiProperty({ type: Boolean, nullable: true }) noNewPrivs: boolean | null;
}

/** REST's one process; GraphQL reaches the same facts through Process.status and Process.ancestors. */
export class ProcessDetailModel extends ProcessModel {
  @ApiProperty({ type: ProcessStatusModel }) status: ProcessStatusModel;
  @ApiProperty({ type: [AncestorModel], description: 'parent first, up to pid 1 (pstree -s)' }) ancestors: AncestorModel[];
}

@ObjectType('EnvironmentVariable')
export class EnvironmentVariableModel {
  @Field() @ApiProperty() key: string;
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true, description: 'only with ?reveal=true, for admins' }) value: string | null;
}

@ObjectType('Environment')
export class EnvironmentModel {
  @Field(() => Int) @ApiProperty() pid: number;
  @Field() @ApiProperty() revealed: boolean;
  @Field(() => [EnvironmentVariableModel]) @ApiProperty({ type: [EnvironmentVariableModel] }) variables: EnvironmentVariableModel[];
}
