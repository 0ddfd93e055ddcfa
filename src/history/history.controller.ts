import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow } from '../auth/auth.decorator.js';
import { HistoryQuery } from './dto/history.query.js';
import { HistoryModel, RecommendationModel } from './history.models.js';
import { HistoryService } from './history.service.js';

/** A container's history and recommendation; a cgroup's are served under /v1/cgroups/{path}/-/history and /-/recommendation. */
@ApiTags('containers')
@Controller('v1/containers')
export class HistoryController {
  constructor(private readonly history: HistoryService) {}

  @Get(':idOrName/history')
  @Allow('viewer')
  @ApiOperation({
    summary: 'Its usage history: 1 s points for the last 10 minutes, 1 min min/avg/max for 24 hours (?from=10m|ISO time&step=5s); in memory only',
    description:
      'cpu (cores), cpu throttled share, memory usage, working set, failcnt and OOM kills per second, pids, PSI some/full of cpu, memory and io. ' +
      'At most 1500 points (VALIDATION_FAILED names the smallest step that fits). History starts when nsgate first sees the container running and does not survive a restart of nsgate; ' +
      'it stays readable 10 minutes after the container stops.',
  })
  @ApiOkResponse({ type: HistoryModel })
  historyOf(@Param('idOrName') idOrName: string, @Query() query: HistoryQuery): Promise<HistoryModel> {
    return this.history.containerHistory(idOrName, query);
  }

  @Get(':idOrName/recommendation')
  @Allow('viewer')
  @ApiOperation({
    summary: 'Memory (max, high) and cpu (quota, weight) recommended from its history, with evidence, confidence and reasons; never applied by nsgate',
    description:
      'With fewer than 30 s of history: confidence "none", recommended null, and a reason saying so (a 200, not an error: memory and cpu each say it). ' +
      'Guard rails: memory never below the working-set peak plus a headroom (max: 20 %, at least 16 MiB; high: 10 %, at least 8 MiB); a cpu quota never below usage p95. ' +
      'limitIsCause is true when the current limit causes the throttling, failcnt, OOM kills or pressure seen; the recommendation then raises it.',
  })
  @ApiOkResponse({ type: RecommendationModel })
  recommendationOf(@Param('idOrName') idOrName: string): Promise<RecommendationModel> {
    return this.history.containerRecommendation(idOrName);
  }
}
