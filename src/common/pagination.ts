import { ArgsType, Field, Int } from '@nestjs/graphql';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { NsgateError } from '../kernel/errors.js';

export const DEFAULT_PAGE = 500;
export const MAX_PAGE = 5000;

/** ?limit=&cursor= on REST, the same arguments on GraphQL lists. */
@ArgsType()
export class PageQuery {
  @Field(() => Int, { nullable: true, description: `page size, default ${DEFAULT_PAGE}, at most ${MAX_PAGE}` })
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE)
  limit?: number;

  @Field(() => String, { nullable: true, description: "the previous page's nextCursor" })
  @ApiPropertyOptional({ description: "the previous page's nextCursor" })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  @Matches(/^[A-Za-z0-9_-]+$/)
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** A page of an in-memory list; the cursor is the offset, opaque to callers. */
export function paginate<T>(items: readonly T[], limit = DEFAULT_PAGE, cursor?: string): Page<T> {
  const offset = cursor ? decodeOffset(cursor) : 0;
  const end = offset + limit;
  return { items: items.slice(offset, end), nextCursor: end < items.length ? encodeOffset(end) : null };
}

function encodeOffset(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

function decodeOffset(cursor: string): number {
  const match = /^o:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new NsgateError('INVALID_CURSOR', 'cursor is not one this server gave out');
  return Number(match[1]);
}
