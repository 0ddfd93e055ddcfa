import { Field, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty } from '@nestjs/swagger';
import { JsonScalar } from '../common/scalars/json.scalar.js';

@ObjectType('Lease', { description: 'a limit change that nsgate puts back at expiresAt, unless a later change touches its fields or it is kept' })
export class LeaseModel {
  @Field() @ApiProperty() id: string;
  @Field({ description: 'cgroup:/path or container:<full id>' }) @ApiProperty({ example: 'cgroup:/nsgate/batch' }) target: string;
  @Field() @ApiProperty({ enum: ['cgroup', 'container'] }) kind: string;
  @Field(() => [String], { description: 'the fields the change set, in its route\'s vocabulary' }) @ApiProperty({ type: [String], example: ['memory.max'] }) fields: string[];
  @Field(() => Int) @ApiProperty() ttlSeconds: number;
  @Field() @ApiProperty({ description: 'ISO 8601' }) createdAt: string;
  @Field() @ApiProperty({ description: 'ISO 8601: when the before values are put back' }) expiresAt: string;
  @Field() @ApiProperty({ description: 'the request that made the change' }) requestId: string;
  @Field(() => JsonScalar, { nullable: true, description: 'the change\'s before (what expiry restores)' }) @ApiProperty({ type: Object, nullable: true }) before: unknown;
  @Field(() => JsonScalar, { nullable: true }) @ApiProperty({ type: Object, nullable: true }) after: unknown;
  @Field(() => Int, { description: 'restores tried and failed so far' }) @ApiProperty() failures: number;
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true }) lastError: string | null;
}

@ObjectType('LeaseRef', { description: 'the lease a change made (ttlSeconds); a dry run: the lease it would make' })
export class LeaseRefModel {
  @Field(() => String, { nullable: true, description: 'null in a dry run: nothing was kept' }) @ApiProperty({ type: String, nullable: true }) id: string | null;
  @Field() @ApiProperty({ description: 'ISO 8601' }) expiresAt: string;
  @Field(() => [String]) @ApiProperty({ type: [String] }) fields: string[];
}

@ObjectType('LeasePage')
export class LeasePageModel {
  @Field(() => [LeaseModel]) @ApiProperty({ type: [LeaseModel] }) items: LeaseModel[];
  @Field(() => String, { nullable: true }) @ApiProperty({ type: String, nullable: true }) nextCursor: string | null;
}

@ObjectType('LeaseKept')
export class LeaseKeptModel {
  @Field() @ApiProperty() id: string;
  @Field() @ApiProperty({ example: 'kept' }) result: string;
  @Field(() => LeaseModel) @ApiProperty({ type: LeaseModel }) lease: LeaseModel;
}

/** What the audit line (and so the lease.kept event) keeps of a DELETE's answer. */
export function keptOutcome(response: unknown): unknown {
  const kept = response as LeaseKeptModel | null;
  return kept?.lease ? { leaseId: kept.id, target: kept.lease.target, fields: kept.lease.fields } : null;
}
