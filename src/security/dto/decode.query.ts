import { ApiProperty } from '@nestjs/swagger';
import { Matches } from 'class-validator';

export class DecodeQuery {
  @ApiProperty({ example: '00000000a80425fb', description: 'a capability mask as /proc/PID/status prints it (up to 16 hex digits, 0x optional)' })
  @Matches(/^(0x)?[0-9a-fA-F]{1,16}$/, { message: 'mask must be 1 to 16 hex digits, optionally 0x-prefixed' })
  mask: string;
}
