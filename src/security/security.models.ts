import { Field, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty } from '@nestjs/swagger';
import { Int64Scalar } from '../common/scalars/int64.scalar.js';

@ObjectType('Seccomp')
export class SeccompModel {
  @Field(() => Int) @ApiProperty({ enum: [0, 1, 2], description: '0 disabled, 1 strict, 2 filter' }) mode: number;
  @Field() @ApiProperty({ enum: ['disabled', 'strict', 'filter'] }) modeName: string;
  @Field(() => Int, { nullable: true }) @ApiProperty({ type: Number, nullable: true, description: 'filters attached (Linux 5.9+)' }) filters: number | null;
}

@ObjectType('CapabilitySet')
export class CapabilitySetModel {
  @Field() @ApiProperty({ example: '00000000a80425fb' }) hex: string;
  @Field(() => [String]) @ApiProperty({ type: [String], description: 'as capsh --decode prints them' }) names: string[];
}

@ObjectType('Capabilities')
export class CapabilitiesModel {
  @Field(() => CapabilitySetModel) @ApiProperty({ type: CapabilitySetModel }) inheritable: CapabilitySetModel;
  @Field(() => CapabilitySetModel) @ApiProperty({ type: CapabilitySetModel }) permitted: CapabilitySetModel;
  @Field(() => CapabilitySetModel) @ApiProperty({ type: CapabilitySetModel }) effective: CapabilitySetModel;
  @Field(() => CapabilitySetModel) @ApiProperty({ type: CapabilitySetModel }) bounding: CapabilitySetModel;
  @Field(() => CapabilitySetModel) @ApiProperty({ type: CapabilitySetModel }) ambient: CapabilitySetModel;
}

@ObjectType('Lsm')
export class LsmModel {
  @Field() @ApiProperty({ enum: ['apparmor', 'selinux', 'smack'] }) name: string;
  @Field() @ApiProperty() label: string;
}

@ObjectType('IdMapping')
export class IdMappingModel {
  @Field(() => Int64Scalar) @ApiProperty() inside: number;
  @Field(() => Int64Scalar) @ApiProperty() outside: number;
  @Field(() => Int64Scalar) @ApiProperty() count: number;
}

@ObjectType('IdSet')
export class IdSetModel {
  @Field(() => Int64Scalar) @ApiProperty() real: number;
  @Field(() => Int64Scalar) @ApiProperty() effective: number;
  @Field(() => Int64Scalar) @ApiProperty() saved: number;
  @Field(() => Int64Scalar) @ApiProperty() filesystem: number;
}

@ObjectType('UserNamespace')
export class UserNamespaceModel {
  @Field(() => Int64Scalar, { nullable: true }) @ApiProperty({ type: Number, nullable: true }) inode: number | null;
  @Field(() => [IdMappingModel]) @ApiProperty({ type: [IdMappingModel] }) uidMap: IdMappingModel[];
  @Field(() => [IdMappingModel]) @ApiProperty({ type: [IdMappingModel] }) gidMap: IdMappingModel[];
  @Field() @ApiProperty({ description: 'uid 0 inside is uid 0 on the host' }) rootIsHostRoot: boolean;
}

@ObjectType('HostNamespaces', { description: "Per type: whether the process is in the host's namespace; null where it cannot be told" })
export class HostNamespacesModel {
  @Field(() => Boolean, { nullable: true }) @ApiProperty({ type: Boolean, nullable: true }) cgroup: boolean | null;
  @Field(() => Boolean, { nullable: true }) @ApiProperty({ type: Boolean, nullable: true }) ipc: boolean | null;
  @Field(() => Boolean, { nullable: true }) @ApiProperty({ type: Boolean, nullable: true }) mnt: boolean | null;
  @Field(() => Boolean, { nullable: true }) @ApiProperty({ type: Boolean, nullable: true }) net: boolean | null;
  @Field(() => Boolean, { nullable: true }) @ApiProperty({ type: Boolean, nullable: true }) pid: boolean | null;
  @Field(() => Boolean, { nullable: true }) @ApiProperty({ type: Boolean, nullable: true }) time: boolean | null;
  @Field(() => Boolean, { nullable: true }) @ApiProperty({ type: Boolean, nullable: true }) user: boolean | null;
  @Field(() => Boolean, { nullable: true }) @ApiProperty({ type: Boolean, nullable: true }) uts: boolean | null;
}

@ObjectType('ProcessSecurity')
export class ProcessSecurityModel {
  @Field(() => Int) @ApiProperty() pid: number;
  @Field(() => SeccompModel) @ApiProperty({ type: SeccompModel }) seccomp: SeccompModel;
  @Field() @ApiProperty() noNewPrivs: boolean;
  @Field(() => CapabilitiesModel) @ApiProperty({ type: CapabilitiesModel }) capabilities: CapabilitiesModel;
  @Field(() => LsmModel, { nullable: true }) @ApiProperty({ type: LsmModel, nullable: true, description: 'null where the kernel runs no labelling LSM' }) lsm: LsmModel | null;
  @Field(() => IdSetModel) @ApiProperty({ type: IdSetModel }) uid: IdSetModel;
  @Field(() => IdSetModel) @ApiProperty({ type: IdSetModel }) gid: IdSetModel;
  @Field(() => UserNamespaceModel) @ApiProperty({ type: UserNamespaceModel }) userNamespace: UserNamespaceModel;
  @Field(() => HostNamespacesModel) @ApiProperty({ type: HostNamespacesModel }) hostNamespaces: HostNamespacesModel;
}

@ObjectType('Finding')
export class FindingModel {
  @Field() @ApiProperty({ example: 'capability:cap_sys_admin' }) id: string;
  @Field() @ApiProperty({ enum: ['critical', 'high', 'medium', 'low'] }) severity: string;
  @Field() @ApiProperty() reason: string;
}

@ObjectType('DecodedCapabilities')
export class DecodedCapabilitiesModel {
  @Field() @ApiProperty({ example: '00000000a80425fb' }) hex: string;
  @Field(() => [String]) @ApiProperty({ type: [String] }) names: string[];
}
