import { ArgsType, Field } from '@nestjs/graphql';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';

@ArgsType()
export class HistoryQuery {
  @Field(() => String, { nullable: true, description: 'ISO 8601 time, or a duration back from now ("10m", "90s", "24h"); default 10m; at most 24h back' })
  @ApiPropertyOptional({ example: '10m', description: 'ISO 8601 time, or a duration back from now ("10m", "90s", "24h"); default 10m; at most 24h back' })
  @IsOptional()
  @IsString()
  @MaxLength(40)
  from?: string;

  @Field(() => String, { nullable: true, description: 'seconds ("5", "5s") or "1m", "5m" (1 s to 24 h); default 1s within the last 10 minutes, else 1m; at most 1500 points' })
  @ApiPropertyOptional({ example: '5s', description: 'seconds ("5", "5s") or "1m", "5m" (1 s to 24 h); default 1s within the last 10 minutes, else 1m; answers hold at most 1500 points' })
  @IsOptional()
  @IsString()
  @MaxLength(16)
  step?: string;
}
