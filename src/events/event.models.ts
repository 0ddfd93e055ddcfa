import { Field, ObjectType } from '@nestjs/graphql';
import { ApiProperty } from '@nestjs/swagger';
import { Int64Scalar } from '../common/scalars/int64.scalar.js';
import { JsonScalar } from '../common/scalars/json.scalar.js';
import { EVENT_TYPES } from './event.js';

@ObjectType('Event', { description: 'Something that happened: a container started, died or hit OOM, a cgroup OOM kill, a limit change' })
export class EventModel {
  @Field(() => Int64Scalar, { description: 'increases by one per event; what SSE sends as id: and takes back as Last-Event-ID' })
  @ApiProperty({ description: 'increases by one per event; the SSE id', example: 1767225600000001 })
  id: number;

  @Field({ description: 'ISO 8601' })
  @ApiProperty({ description: 'ISO 8601', example: '2026-01-01T00:00:00.000Z' })
  time: string;

  @Field({ description: EVENT_TYPES.join(', ') })
  @ApiProperty({ enum: EVENT_TYPES })
  type: string;

  @Field({ description: 'container:<id> or cgroup:<path>, as in the audit log' })
  @ApiProperty({ description: 'container:<id> or cgroup:<path>, as in the audit log', example: 'cgroup:/nsgate/batch' })
  target: string;

  @Field(() => JsonScalar, { description: 'per type: name, image, exitCode; kills, total, containerId; action, requestId, before, after' })
  @ApiProperty({ description: 'per type: name, image, exitCode; kills, total, containerId; action, requestId, before, after' })
  data: Record<string, unknown>;
}
