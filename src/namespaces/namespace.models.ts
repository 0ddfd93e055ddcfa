import { Field, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty } from '@nestjs/swagger';
import { Int64Scalar } from '../common/scalars/int64.scalar.js';
import { NamespaceTypeEnum } from '../processes/process.models.js';

@ObjectType('Namespace', { description: 'One line of lsns' })
export class NamespaceModel {
  @Field(() => NamespaceTypeEnum) @ApiProperty({ enum: Object.keys(NamespaceTypeEnum) }) type: string;
  @Field(() => Int64Scalar) @ApiProperty({ example: 4026531840 }) inode: number;
  @Field(() => Int) @ApiProperty({ description: 'processes in it (not threads), as lsns NPROCS' }) processCount: number;
  @Field(() => Int) @ApiProperty({ description: 'the lowest pid in it' }) pid: number;
  @Field() @ApiProperty({ description: "that process's command, as lsns COMMAND" }) command: string;
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true, description: 'owner of that process' }) user: string | null;
}

@ObjectType('NamespacePage')
export class NamespacePageModel {
  @Field(() => [NamespaceModel]) @ApiProperty({ type: [NamespaceModel] }) items: NamespaceModel[];
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}

export class NamespaceMemberModel {
  @ApiProperty() pid: number;
  @ApiProperty({ description: 'its pid inside its own pid namespace (last of NSpid)' }) pidInNamespace: number;
  @ApiProperty({ type: [Number], description: 'NSpid: from the host down to its own' }) nspid: number[];
  @ApiProperty() comm: string;
  @ApiProperty({ type: [String] }) cmdline: string[];
  @ApiProperty() user: string;
  @ApiProperty({ type: String, nullable: true }) containerId: string | null;
}

export class NamespaceDetailModel extends NamespaceModel {
  @ApiProperty({ type: [NamespaceMemberModel] }) processes: NamespaceMemberModel[];
}
