import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow } from '../auth/auth.decorator.js';
import { PidPipe } from '../common/pid.pipe.js';
import { DecodeQuery } from './dto/decode.query.js';
import { DecodedCapabilitiesModel, ProcessSecurityModel } from './security.models.js';
import { SecurityService } from './security.service.js';
import { ApiErrors } from '../docs/api-errors.decorator.js';

@ApiTags('security')
@Controller('v1')
export class SecurityController {
  constructor(private readonly security: SecurityService) {}

  @Get('processes/:pid/security')
  @Allow('viewer')
  @ApiErrors('PROCESS_NOT_FOUND', 'KERNEL_PERMISSION_DENIED')
  @ApiOperation({ summary: 'Seccomp, no_new_privs, the five capability sets, LSM label, user namespace maps, host namespaces of a process' })
  @ApiOkResponse({ type: ProcessSecurityModel })
  process(@Param('pid', PidPipe) pid: number): ProcessSecurityModel {
    return this.security.processSecurity(pid);
  }

  @Get('capabilities/decode')
  @Allow('viewer')
  @ApiOperation({ summary: 'What `capsh --decode=MASK` prints, as JSON' })
  @ApiOkResponse({ type: DecodedCapabilitiesModel })
  decode(@Query() query: DecodeQuery): DecodedCapabilitiesModel {
    return this.security.decode(query.mask);
  }
}
