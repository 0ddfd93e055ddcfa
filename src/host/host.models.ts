import { Field, ObjectType } from '@nestjs/graphql';
import { ApiProperty } from '@nestjs/swagger';

@ObjectType('CgroupHierarchy')
export class HierarchyModel {
  @Field(() => Number) @ApiProperty({ enum: [1, 2] }) version: 1 | 2;
  @Field() @ApiProperty() mountPoint: string;
  @Field(() => [String]) @ApiProperty({ type: [String] }) controllers: string[];
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true, description: 'v1 named hierarchy (e.g. systemd)' }) name: string | null;
}

@ObjectType('Engine')
export class EngineModel {
  @Field() @ApiProperty({ enum: ['up', 'unavailable'] }) status: string;
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true }) version: string | null;
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true }) apiVersion: string | null;
  @Field() @ApiProperty({ description: 'DOCKER_HOST in use' }) host: string;
}

@ObjectType('Host')
export class HostModel {
  @Field() @ApiProperty({ example: '6.1.0-26-amd64' }) kernel: string;
  @Field() @ApiProperty({ enum: ['v1', 'v2', 'hybrid', 'none'] }) cgroupMode: string;
  @Field(() => [HierarchyModel]) @ApiProperty({ type: [HierarchyModel] }) hierarchies: HierarchyModel[];
  @Field(() => [String]) @ApiProperty({ type: [String], description: 'from /sys/kernel/security/lsm; [] where securityfs is absent' }) lsms: string[];
  @Field(() => EngineModel) @ApiProperty({ type: EngineModel }) engine: EngineModel;
}
