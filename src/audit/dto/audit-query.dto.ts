import type { AuditFilter } from '../audit-entry.js';
import { ArgsType, Field } from '@nestjs/graphql';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsISO8601, IsOptional, IsString, MaxLength } from 'class-validator';
import { PageQuery } from '../../common/pagination.js';

@ArgsType()
export class AuditQuery extends PageQuery {
  @Field(() => String, { nullable: true, description: 'caller name (exact)' })
  @ApiPropertyOptional({ description: 'caller name (exact)' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  caller?: string;

  @Field(() => String, { nullable: true, description: 'target prefix, e.g. cgroup:/nsgate' })
  @ApiPropertyOptional({ description: 'target prefix, e.g. cgroup:/nsgate' })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  target?: string;

  @Field(() => String, { nullable: true, description: 'action name (exact), e.g. cgroup.limits' })
  @ApiPropertyOptional({ description: 'action name (exact), e.g. cgroup.limits' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  action?: string;

  @Field(() => String, { nullable: true, description: 'ISO 8601 time; entries at or after it' })
  @ApiPropertyOptional({ description: 'ISO 8601 time; entries at or after it' })
  @IsOptional()
  @IsISO8601({ strict: true })
  since?: string;

  @Field(() => String, { nullable: true, description: 'ISO 8601 time; entries at or before it' })
  @ApiPropertyOptional({ description: 'ISO 8601 time; entries at or before it' })
  @IsOptional()
  @IsISO8601({ strict: true })
  until?: string;
}

export function toAuditFilter(query: AuditQuery): AuditFilter {
  return {
    caller: query.caller,
    target: query.target,
    action: query.action,
    since: query.since ? new Date(query.since) : undefined,
    until: query.until ? new Date(query.until) : undefined,
  };
}
