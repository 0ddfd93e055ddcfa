import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { EVENT_TYPES, MAX_TARGET_FILTER } from '../event.js';

/** GET /v1/events?type=container.oom,limits.changed&target=cgroup:/nsgate */
export class EventsQuery {
  @ApiPropertyOptional({ description: `comma list of ${EVENT_TYPES.join(', ')}; default: all`, example: 'container.oom,cgroup.oom_kill' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  type?: string;

  @ApiPropertyOptional({ description: 'target prefix: container:<id>, cgroup:<path>', example: 'cgroup:/nsgate' })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_TARGET_FILTER)
  target?: string;

  @ApiPropertyOptional({ description: 'the same as the Last-Event-ID header, for clients that cannot set headers' })
  @IsOptional()
  @IsString()
  @Matches(/^\d{1,16}$/, { message: 'lastEventId must be the id of an event (digits)' })
  lastEventId?: string;
}
