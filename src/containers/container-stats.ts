import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { CgroupSystem } from '../kernel/cgroups/system.js';
import { CpuSampler, usageReaderFrom } from '../kernel/containers/cpu-sampler.js';
import { workingSetOf } from '../kernel/history/sampler.js';
import type { ContainerModel, ContainerStatsModel } from './container.models.js';
import { ContainerIndex } from './container-index.js';

/** How often the sampler's set of cgroups follows the running containers. */
const TRACK_INTERVAL_MS = 5000;

/**
 * Container stats from the cgroup files (memory, pids, block I/O read on every call) and cpu
 * percent from a background sampler that keeps a previous sample of every running container,
 * so a read answers at once instead of waiting a second as the engine's stats API does.
 */
@Injectable()
export class ContainerStats implements OnModuleInit, OnModuleDestroy {
  private readonly sampler: CpuSampler;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly system: CgroupSystem,
    private readonly index: ContainerIndex,
  ) {
    this.sampler = new CpuSampler({ readUsageNs: usageReaderFrom(system) });
  }

  onModuleInit(): void {
    this.sampler.start();
    this.timer = setInterval(() => this.follow(), TRACK_INTERVAL_MS);
    this.timer.unref();
    void this.index.model.ready().then(() => this.follow());
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.sampler.stop();
  }

  private follow(): void {
    this.sampler.setTracked(this.index.runningCgroups());
  }

  /** Null when it is not running (or its cgroup went away meanwhile). */
  of(view: Pick<ContainerModel, 'id' | 'name' | 'pid' | 'cgroupPath'>): ContainerStatsModel | null {
    if (view.pid === null || view.cgroupPath === null || !this.system.exists(view.cgroupPath)) return null;
    const stats = this.system.readStats(view.cgroupPath);
    this.sampler.track(view.cgroupPath);
    const cpu = this.sampler.read(view.cgroupPath);
    const usage = stats.memory?.usage ?? null;
    return {
      id: view.id,
      name: view.name,
      memory: { usage, limit: stats.memory?.limit ?? null, workingSet: workingSetOf(stats.memory) },
      cpu: { percent: cpu?.percent ?? null, usageNs: cpu?.usageNs ?? stats.cpu?.usageNs ?? null, windowMs: cpu?.windowMs === null || cpu?.windowMs === undefined ? null : Math.round(cpu.windowMs) },
      pids: { current: stats.pids?.current ?? null, limit: stats.pids?.max ?? null },
      blkio: { readBytes: stats.io?.readBytes ?? null, writeBytes: stats.io?.writeBytes ?? null },
      readAt: new Date().toISOString(),
      fromHistory: false,
    };
  }
}
