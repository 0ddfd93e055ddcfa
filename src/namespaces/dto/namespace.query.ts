import { ArgsType, Field } from '@nestjs/graphql';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { NAMESPACE_TYPES } from '../../kernel/procfs/namespace-types.js';
import { FreshnessQuery } from '../../processes/dto/process-list.query.js';
import { NamespaceTypeEnum } from '../../processes/process.models.js';

@ArgsType()
export class NamespaceListQuery extends FreshnessQuery {
  @Field(() => NamespaceTypeEnum, { nullable: true })
  @ApiPropertyOptional({ enum: NAMESPACE_TYPES })
  @IsOptional()
  @IsIn(NAMESPACE_TYPES)
  type?: string;
}
