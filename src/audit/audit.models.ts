import { Field, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty } from '@nestjs/swagger';
import { JsonScalar } from '../common/scalars/json.scalar.js';

@ObjectType('Caller')
export class CallerModel {
  @Field() @ApiProperty() name: string;
  @Field() @ApiProperty({ enum: ['viewer', 'operator', 'admin'] }) role: string;
}

@ObjectType('AuditEntry')
export class AuditEntryModel {
  @Field() @ApiProperty() time: string;
  @Field() @ApiProperty() requestId: string;
  @Field(() => CallerModel, { nullable: true }) @ApiProperty({ type: CallerModel, nullable: true }) caller: CallerModel | null;
  @Field() @ApiProperty() action: string;
  @Field() @ApiProperty() target: string;
  @Field() @ApiProperty({ enum: ['received', 'completed'] }) stage: string;
  @Field() @ApiProperty({ enum: ['allowed', 'ok', 'denied', 'failed'] }) result: string;
  @Field(() => String, { nullable: true }) @ApiProperty({ nullable: true, type: String }) errorCode: string | null;
  @Field(() => JsonScalar, { nullable: true }) @ApiProperty({ nullable: true }) request: unknown;
  @Field(() => JsonScalar, { nullable: true }) @ApiProperty({ nullable: true }) before: unknown;
  @Field(() => JsonScalar, { nullable: true }) @ApiProperty({ nullable: true }) after: unknown;
}

@ObjectType('AuditPage')
export class AuditPageModel {
  @Field(() => [AuditEntryModel]) @ApiProperty({ type: [AuditEntryModel] }) items: AuditEntryModel[];
  @Field(() => String, { nullable: true }) @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
  @Field(() => Int, { description: 'Lines in the part read that were not whole JSON (torn by a crash): skipped, counted' })
  @ApiProperty({ type: 'integer', description: 'lines in the part read that were not whole JSON (torn by a crash): skipped, counted' })
  skippedLines: number;
}
