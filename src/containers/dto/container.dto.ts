import { ArgsType, Field, Float, InputType, Int } from '@nestjs/graphql';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsNumber, IsOptional, Max, Min, ValidateIf } from 'class-validator';
import { PageQuery } from '../../common/pagination.js';
import { Int64Scalar } from '../../common/scalars/int64.scalar.js';

@ArgsType()
export class ContainerListQuery extends PageQuery {
  @Field(() => Boolean, { nullable: true })
  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'include each running container\'s stats' })
  @IsOptional()
  @IsIn(['true', 'false', true, false])
  stats?: string | boolean;
}

/** PATCH /v1/containers/{id}/limits; sent through the engine's update API, as `docker update`. */
@InputType('ContainerLimitsInput')
export class ContainerLimitsBody {
  @Field(() => String, { nullable: true, description: 'bytes or "64M"; at least 6 MiB' })
  @ApiPropertyOptional({ oneOf: [{ type: 'number' }, { type: 'string' }], example: 8000000 })
  @IsOptional()
  memory?: number | string;

  @Field(() => String, { nullable: true, description: 'memory + swap: bytes, "1G", or -1 / "max" for unlimited swap' })
  @ApiPropertyOptional({ oneOf: [{ type: 'number' }, { type: 'string' }] })
  @IsOptional()
  memorySwap?: number | string;

  @Field(() => Float, { nullable: true, description: 'CPUs, e.g. 1.5 (docker update --cpus)' })
  @ApiPropertyOptional({ type: 'number', format: 'double', example: 0.5 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.01)
  @Max(1024)
  cpus?: number;

  @Field(() => Int, { nullable: true, description: '2..262144' })
  @ApiPropertyOptional({ example: 512 })
  @IsOptional()
  @IsInt()
  @Min(2)
  @Max(262144)
  cpuShares?: number;

  @Field(() => Int64Scalar, { nullable: true, description: 'a count, or -1 for unlimited' })
  @ApiPropertyOptional({ example: 64 })
  @IsOptional()
  @IsInt()
  @ValidateIf((o: ContainerLimitsBody) => o.pidsLimit !== -1)
  @Min(1)
  @Max(4194304)
  pidsLimit?: number;
}
