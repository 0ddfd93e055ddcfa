import { ArgsType, Field, Int } from '@nestjs/graphql';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { PageQuery } from '../../common/pagination.js';

export const MAX_AGE_LIMIT_MS = 60_000;

const CONTAINER_FILTER =
  'a container, as the container routes name it: id, unique id prefix or name. 4 to 64 lowercase hex digits are taken as an id prefix ' +
  '(so containers of other runtimes match too, and no engine is asked); anything else is a name the Docker Engine knows (404 CONTAINER_NOT_FOUND if none)';

/** ?maxAgeMs=: accept a snapshot that old instead of a fresh scan. */
@ArgsType()
export class FreshnessQuery extends PageQuery {
  @Field(() => Int, { nullable: true, description: 'accept a cached snapshot up to this old (ms); default: a scan that starts after the request' })
  @ApiPropertyOptional({ minimum: 0, maximum: MAX_AGE_LIMIT_MS, description: 'accept a cached snapshot up to this old (ms); default: a scan that starts after the request' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_AGE_LIMIT_MS)
  maxAgeMs?: number;
}

@ArgsType()
export class ProcessListQuery extends FreshnessQuery {
  @Field(() => String, { nullable: true, description: CONTAINER_FILTER })
  @ApiPropertyOptional({ description: CONTAINER_FILTER, example: 'db' })
  @IsOptional()
  @Matches(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/, { message: 'container must be a container id, id prefix or name' })
  container?: string;

  @Field(() => String, { nullable: true, description: 'type:inode, e.g. net:4026532160' })
  @ApiPropertyOptional({ description: 'type:inode, e.g. net:4026532160', example: 'net:4026531840' })
  @IsOptional()
  @Matches(/^(cgroup|ipc|mnt|net|pid|time|user|uts):\d{1,20}$/, { message: 'namespace must be type:inode, e.g. net:4026531840' })
  namespace?: string;

  @Field(() => String, { nullable: true, description: 'a cgroup path; processes in it or below' })
  @ApiPropertyOptional({ description: 'a cgroup path; processes in it or below', example: '/docker' })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  @Matches(/^\/[^\0\n]*$/, { message: 'cgroup must be an absolute cgroup path' })
  cgroup?: string;
}

export class EnvironQuery {
  @ApiPropertyOptional({ description: 'admin only: include the values (audited)', enum: ['true', 'false'] })
  @IsOptional()
  @Matches(/^(true|false)$/, { message: 'reveal must be true or false' })
  reveal?: string;
}
