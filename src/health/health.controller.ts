import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/auth.decorator.js';
import { LivenessModel, ReadinessModel } from './health.models.js';
import { HealthService, type Readiness } from './health.service.js';

interface Reply {
  status(code: number): Reply;
}

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get('healthz')
  @Public()
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiOkResponse({ type: LivenessModel })
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  @Public()
  @ApiOperation({ summary: 'Readiness, per dependency (procfs, cgroupfs, state folder, audit log, Docker Engine); an absent engine is reported, not fatal; an audit log that cannot take lines (disk full) is not ready' })
  @ApiOkResponse({ description: 'ready', type: ReadinessModel })
  @ApiServiceUnavailableResponse({ description: 'not ready: a required dependency failed', type: ReadinessModel })
  async readyz(@Res({ passthrough: true }) reply: Reply): Promise<Readiness> {
    const readiness = await this.health.readiness();
    if (readiness.status !== 'ready') reply.status(503);
    return readiness;
  }
}
