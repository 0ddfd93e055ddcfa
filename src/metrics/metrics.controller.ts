import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Allow } from '../auth/auth.decorator.js';
import { MetricsService } from './metrics.service.js';

@ApiTags('metrics')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Allow('viewer')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({
    summary: 'Prometheus metrics (text format)',
    description:
      "nsgate's own series (nsgate_*) and, for every running container and managed cgroup, cAdvisor's series under its names and labels (id = cgroup path, name, image): container_cpu_usage_seconds_total, container_memory_working_set_bytes, container_spec_memory_limit_bytes, ... (README, Prometheus / Grafana). Scrape it with a viewer token (authorization: Bearer in the scrape config).",
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({ type: String })
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
