import { ArgsType, Field, Int } from '@nestjs/graphql';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { PageQuery } from '../../common/pagination.js';

export const MAX_TREE_DEPTH = 16;

@ArgsType()
export class CgroupListQuery extends PageQuery {
  @Field(() => String, { nullable: true, description: 'the cgroup to list from; default /' })
  @ApiPropertyOptional({ example: '/docker', description: 'the cgroup to list from; default /' })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  under?: string;

  @Field(() => Int, { nullable: true, description: `levels below \`under\`; default 1, at most ${MAX_TREE_DEPTH}` })
  @ApiPropertyOptional({ minimum: 0, maximum: MAX_TREE_DEPTH, default: 1 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_TREE_DEPTH)
  depth?: number;
}
