import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow } from '../auth/auth.decorator.js';
import { HostModel } from './host.models.js';
import { HostService } from './host.service.js';

@ApiTags('host')
@Controller('v1/host')
export class HostController {
  constructor(private readonly hosts: HostService) {}

  @Get()
  @Allow('viewer')
  @ApiOperation({ summary: 'Kernel release, cgroup mode and the controllers of each hierarchy, LSMs, engine status' })
  @ApiOkResponse({ type: HostModel })
  host(): Promise<HostModel> {
    return this.hosts.host();
  }
}
