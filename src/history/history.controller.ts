import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow } from '../auth/auth.decorator.js';
import { PATH_ERRORS, PathParam } from '../cgroups/cgroup-path.docs.js';
import { cgroupPathOf } from '../cgroups/cgroup-route.js';
import { ApiErrors } from '../docs/api-errors.decorator.js';
import { HistoryQuery } from './dto/history.query.js';
import { HistoryModel, RecommendationModel } from './history.models.js';
import { HistoryService } from './history.service.js';

const HISTORY_SUMMARY = 'Its usage history: 1 s points for the last 10 minutes, 1 min min/avg/max for 24 hours (?from=10m|ISO time&step=5s); in memory only';
const HISTORY_DESCRIPTION =
  'cpu (cores), cpu throttled share, memory usage, working set, failcnt and OOM kills per second, pids, PSI some/full of cpu, memory and io. ' +
  'At most 1500 points (VALIDATION_FAILED names the smallest step that fits). History is kept for running containers and managed cgroups, starts when nsgate first sees one ' +
  'and does not survive a restart of nsgate; it stays readable 10 minutes after the cgroup goes away. 404 NOT_FOUND: nsgate keeps no history of it.';
const RECOMMENDATION_SUMMARY = 'Memory (max, high) and cpu (quota, weight) recommended from its history, with evidence, confidence and reasons; never applied by nsgate';
const RECOMMENDATION_DESCRIPTION =
  'With fewer than 30 s of history: confidence "none", recommended null, and a reason saying so (a 200, not an error: memory and cpu each say it). ' +
  'Guard rails: memory never below the working-set peak plus a headroom (max: 20 %, at least 16 MiB; high: 10 %, at least 8 MiB); a cpu quota never below usage p95. ' +
  'limitIsCause is true when the current limit causes the throttling, failcnt, OOM kills or pressure seen; the recommendation then raises it.';

const CONTAINER_ERRORS = ['CONTAINER_NOT_FOUND', 'CONTAINER_AMBIGUOUS', 'ENGINE_UNAVAILABLE', 'NOT_FOUND'] as const;

/** A container's history and recommendation. */
@ApiTags('containers')
@Controller('v1/containers')
export class HistoryController {
  constructor(private readonly history: HistoryService) {}

  @Get(':idOrName/history')
  @Allow('viewer')
  @ApiErrors(...CONTAINER_ERRORS)
  @ApiOperation({ summary: HISTORY_SUMMARY, description: HISTORY_DESCRIPTION })
  @ApiOkResponse({ type: HistoryModel })
  historyOf(@Param('idOrName') idOrName: string, @Query() query: HistoryQuery): Promise<HistoryModel> {
    return this.history.containerHistory(idOrName, query);
  }

  @Get(':idOrName/recommendation')
  @Allow('viewer')
  // CONFLICT: it stopped (its history is still readable, its limits are not)
  @ApiErrors(...CONTAINER_ERRORS, 'CONFLICT', 'CGROUP_GONE', 'KERNEL_PERMISSION_DENIED')
  @ApiOperation({ summary: RECOMMENDATION_SUMMARY, description: RECOMMENDATION_DESCRIPTION })
  @ApiOkResponse({ type: RecommendationModel })
  recommendationOf(@Param('idOrName') idOrName: string): Promise<RecommendationModel> {
    return this.history.containerRecommendation(idOrName);
  }
}

/**
 * A cgroup's history and recommendation: actions of `/v1/cgroups/{path}` served by this module
 * (the cgroups module cannot import it). The root is `/v1/cgroups/%2F/-/history`.
 */
@ApiTags('cgroups')
@Controller('v1/cgroups')
export class CgroupHistoryController {
  constructor(private readonly history: HistoryService) {}

  @Get(':path/-/history')
  @Allow('viewer')
  @PathParam()
  @ApiErrors(...PATH_ERRORS, 'NOT_FOUND')
  @ApiOperation({ summary: HISTORY_SUMMARY, description: HISTORY_DESCRIPTION })
  @ApiOkResponse({ type: HistoryModel })
  historyOf(@Param('path') path: string, @Query() query: HistoryQuery): HistoryModel {
    return this.history.cgroupHistory(cgroupPathOf(path), query);
  }

  @Get(':path/-/recommendation')
  @Allow('viewer')
  @PathParam()
  @ApiErrors(...PATH_ERRORS, 'NOT_FOUND')
  @ApiOperation({ summary: RECOMMENDATION_SUMMARY, description: RECOMMENDATION_DESCRIPTION })
  @ApiOkResponse({ type: RecommendationModel })
  recommendationOf(@Param('path') path: string): RecommendationModel {
    return this.history.cgroupRecommendation(cgroupPathOf(path));
  }
}
