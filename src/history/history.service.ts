import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service.js';
import { ContainerIndex } from '../containers/container-index.js';
import { managedCgroups } from '../events/oom-sources.js';
import type { StatGroup } from '../kernel/cgroups/driver.js';
import { parseCgroupPath } from '../kernel/cgroups/paths.js';
import { CgroupSystem } from '../kernel/cgroups/system.js';
import { NsgateError } from '../kernel/errors.js';
import { recommend } from '../kernel/history/recommend.js';
import { HistorySampler, type HistorySamplerStatus } from '../kernel/history/sampler.js';
import { METRICS } from '../kernel/history/series.js';
import { planQuery } from '../kernel/history/window.js';
import type { ContainerStatsModel } from '../containers/container.models.js';
import type { HistoryModel, HistoryPointModel, RecommendationModel } from './history.models.js';

/** How often the set of sampled cgroups follows the running containers and the managed tree. */
const FOLLOW_INTERVAL_MS = 5000;
/** At most this many cgroups have history (containers first, then managed cgroups breadth first). */
export const MAX_TRACKED_CGROUPS = 1000;
/** Managed cgroups followed (of the MAX_TRACKED_CGROUPS). */
const MAX_MANAGED = 256;
/** What a history sample reads: no I/O counters. */
const SAMPLED: ReadonlySet<StatGroup> = new Set(['memory', 'cpu', 'pids', 'pressure']);
const NOTE = 'in memory only: nsgate keeps no history across restarts; it starts when nsgate first sees the cgroup';

interface Target {
  target: string;
  cgroupPath: string;
}

/**
 * Usage history of every running container and managed cgroup (one sampler, one stats read per
 * cgroup per second), answers over it, and limit recommendations from it (never applied).
 */
@Injectable()
export class HistoryService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('history');
  readonly sampler: HistorySampler;
  private timer: NodeJS.Timeout | undefined;
  /** Container id -> its cgroup, remembered while it ran (a stopped container's history stays readable a while). */
  private readonly containerCgroups = new Map<string, string>();

  constructor(
    private readonly system: CgroupSystem,
    private readonly index: ContainerIndex,
    metrics: MetricsService,
  ) {
    this.sampler = new HistorySampler({
      readStats: (path) => system.readStats(path, SAMPLED),
      maxTracked: MAX_TRACKED_CGROUPS,
      onError: (path, err) => this.logger.debug(`history sample of ${path}: ${(err as Error).message}`),
    });
    const status = () => this.sampler.status();
    new Gauge({ name: 'nsgate_history_cgroups', help: 'Cgroups whose usage history nsgate samples', registers: [metrics.registry], collect() { this.set(status().tracked); } });
    new Gauge({ name: 'nsgate_history_bytes', help: 'Bytes the usage-history rings hold (tracked and recently stopped cgroups)', registers: [metrics.registry], collect() { this.set(status().bytes); } });
    new Gauge({ name: 'nsgate_history_round_seconds', help: 'Wall time of the last history sampling round', registers: [metrics.registry], collect() { this.set(status().lastRoundMs / 1000); } });
  }

  onModuleInit(): void {
    this.follow();
    this.sampler.start();
    this.timer = setInterval(() => this.follow(), FOLLOW_INTERVAL_MS);
    this.timer.unref();
    void this.index.model.ready().then(() => this.follow());
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.sampler.stop();
  }

  status(): HistorySamplerStatus {
    return this.sampler.status();
  }

  /** Running containers first (they are what tuners ask about), then the managed tree. */
  follow(): void {
    try {
      const containers = this.index.runningCgroups();
      for (const c of this.index.model.snapshot()) if (c.cgroupPath && c.pid !== null) this.containerCgroups.set(c.id, c.cgroupPath);
      let managed: string[] = [];
      try {
        managed = managedCgroups(this.system, { maxNodes: MAX_MANAGED }).map((t) => t.path);
      } catch (err) {
        this.logger.debug(`history: managed cgroups: ${(err as Error).message}`);
      }
      this.sampler.setTracked([...containers, ...managed]);
      const known = new Set(this.sampler.tracked());
      for (const [id, path] of this.containerCgroups) if (!known.has(path) && !this.sampler.series(path)) this.containerCgroups.delete(id);
    } catch (err) {
      this.logger.warn(`history: following cgroups failed: ${(err as Error).message}`);
    }
  }

  hasCgroup(path: string): boolean {
    return this.sampler.series(path) !== undefined;
  }

  hasContainer(id: string): boolean {
    const path = this.containerCgroups.get(id);
    return path !== undefined && this.sampler.series(path) !== undefined;
  }

  private async containerTarget(idOrName: string): Promise<Target> {
    const c = await this.index.resolve(idOrName);
    const path = c.cgroupPath ?? this.containerCgroups.get(c.id) ?? null;
    if (path === null || !this.sampler.series(path)) {
      throw new NsgateError('NOT_FOUND', `nsgate holds no history of container ${c.name}: history is kept while a container runs (and 10 minutes after), in memory only`, { id: c.id, state: c.state });
    }
    return { target: `container:${c.id}`, cgroupPath: path };
  }

  private cgroupTarget(pathInput: string): Target {
    const path = parseCgroupPath(pathInput);
    if (!this.sampler.series(path)) {
      if (!this.system.exists(path)) throw new NsgateError('CGROUP_NOT_FOUND', `cgroup ${path} does not exist`, { path });
      throw new NsgateError('NOT_FOUND', `nsgate holds no history of ${path}: it keeps history of running containers and managed cgroups (${this.system.managed.join(', ')}), in memory only`, { path });
    }
    return { target: `cgroup:${path}`, cgroupPath: path };
  }

  async containerHistory(idOrName: string, query: { from?: string; step?: string }): Promise<HistoryModel> {
    return this.history(await this.containerTarget(idOrName), query);
  }

  cgroupHistory(path: string, query: { from?: unknown; step?: unknown }): HistoryModel {
    return this.history(this.cgroupTarget(path), query);
  }

  /**
   * The container's per-second history since `since` (at most ten minutes back) as stats
   * readings, oldest first: what the containerStats subscription replays before going live.
   */
  async containerStatsSince(idOrName: string, since: string): Promise<ContainerStatsModel[]> {
    const c = await this.index.resolve(idOrName);
    const t = await this.containerTarget(c.id);
    const plan = planQuery({ from: since, step: '1s' }, Date.now());
    if (plan.resolution !== 'fine') throw new NsgateError('VALIDATION_FAILED', 'since reaches at most 10 minutes back (the per-second history)', { since });
    const series = this.sampler.series(t.cgroupPath)!;
    return series
      .query(plan.fromMs, plan.toMs - 1000, 1000, 'fine')
      .filter((p) => p.values.memoryUsage.avg !== null || p.values.cpu.avg !== null)
      .map((p) => ({
        id: c.id,
        name: c.name,
        // a one-second step holds one sample: its mean is the value read (rounded: Int64 fields)
        memory: { usage: whole(p.values.memoryUsage.avg), limit: null, workingSet: whole(p.values.workingSet.avg), percent: null },
        cpu: { percent: p.values.cpu.avg === null ? null : p.values.cpu.avg * 100, usageNs: null, windowMs: 1000 },
        pids: { current: whole(p.values.pids.avg), limit: null },
        blkio: { readBytes: null, writeBytes: null },
        network: null,
        readAt: new Date(p.at).toISOString(),
        fromHistory: true,
      }));
  }

  async containerRecommendation(idOrName: string): Promise<RecommendationModel> {
    const target = await this.containerTarget(idOrName);
    if (!this.system.exists(target.cgroupPath)) throw new NsgateError('CONFLICT', 'the container is not running: its current limits cannot be read', { target: target.target });
    return this.recommendation(target);
  }

  cgroupRecommendation(path: string): RecommendationModel {
    return this.recommendation(this.cgroupTarget(path));
  }

  private history(t: Target, query: { from?: unknown; step?: unknown }): HistoryModel {
    const series = this.sampler.series(t.cgroupPath)!;
    const now = Date.now();
    for (const [key, value] of Object.entries(query)) {
      if (!['from', 'step'].includes(key) || (value !== undefined && value !== null && typeof value !== 'string')) {
        throw new NsgateError('VALIDATION_FAILED', 'history takes ?from= and ?step= (strings) only', { field: key });
      }
    }
    const plan = planQuery({ from: (query.from ?? undefined) as string | undefined, step: (query.step ?? undefined) as string | undefined }, now);
    const points: HistoryPointModel[] = series.query(plan.fromMs, plan.toMs, plan.stepMs, plan.resolution).map((p) => {
      const point = { at: new Date(p.at).toISOString() } as HistoryPointModel;
      for (const m of METRICS) (point as unknown as Record<string, unknown>)[m] = p.values[m];
      return point;
    });
    return {
      ...t,
      resolution: plan.resolution === 'fine' ? 'second' : 'minute',
      stepSeconds: plan.stepMs / 1000,
      from: new Date(plan.fromMs).toISOString(),
      to: new Date(plan.toMs).toISOString(),
      trackedSince: series.firstAt ? new Date(series.firstAt).toISOString() : null,
      tracked: this.sampler.isTracked(t.cgroupPath),
      note: NOTE,
      points,
    };
  }

  private recommendation(t: Target): RecommendationModel {
    const series = this.sampler.series(t.cgroupPath)!;
    const limits = this.system.readLimits(t.cgroupPath);
    const memoryHigh = this.system.drivers.some((d) => d.version === 2 && d.features.has('memory') && d.presentIn(t.cgroupPath).length > 0);
    const r = recommend({ series, now: Date.now(), memory: limits.memory, cpu: limits.cpu, memoryHigh });
    return {
      ...t,
      memory: r.memory && { ...r.memory, evidence: r.memory.evidence as unknown as Record<string, unknown> },
      cpu: r.cpu && { ...r.cpu, evidence: r.cpu.evidence as unknown as Record<string, unknown> },
      applied: false,
    };
  }
}

function whole(value: number | null): number | null {
  return value === null ? null : Math.round(value);
}
