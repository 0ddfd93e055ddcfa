import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import type { Stats } from '../kernel/cgroups/driver.js';
import { CgroupSystem } from '../kernel/cgroups/system.js';
import { CpuSampler, usageReaderFrom } from '../kernel/containers/cpu-sampler.js';
import { memoryPercent, workingSetBytes } from '../kernel/containers/memory-usage.js';
import { NsgateError } from '../kernel/errors.js';
import { readMemTotalBytes } from '../kernel/procfs/meminfo.js';
import { readNamespaceInode } from '../kernel/procfs/namespace-links.js';
import { type InterfaceCounters, readNetworkInterfaces, sumInterfaces } from '../kernel/procfs/net-dev.js';
import type { ContainerModel, ContainerStatsModel } from './container.models.js';
import { ContainerIndex } from './container-index.js';

/** How often the sampler's set of cgroups follows the running containers. */
const TRACK_INTERVAL_MS = 5000;

/** One read of a running container: its cgroup's stats, docker's memory numbers, its network namespace's interfaces. */
export interface ContainerUsage {
  stats: Stats;
  /** usage − inactive file: docker stats' "MEM USAGE", cAdvisor's working set. */
  workingSet: number | null;
  /** docker stats' "MEM %": workingSet over the limit, or over the machine's memory when that is lower. */
  memoryPercent: number | null;
  /**
   * The interfaces of its network namespace but loopback; null when it shares the host's (the
   * counters would be the host's) or the namespace cannot be read.
   */
  network: InterfaceCounters[] | null;
}

type RunningView = Pick<ContainerModel, 'pid' | 'cgroupPath'>;

/**
 * Container stats from the cgroup files and /proc/PID/net/dev (read on every call) and cpu
 * percent from a background sampler that keeps a previous sample of every running container,
 * so a read answers at once instead of waiting a second as the engine's stats API does. The
 * stats routes and /metrics read through here, so they never disagree.
 */
@Injectable()
export class ContainerStats implements OnModuleInit, OnModuleDestroy {
  private readonly sampler: CpuSampler;
  private timer: NodeJS.Timeout | undefined;
  private machineMemory: number | undefined;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
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

  /** MemTotal, read once: what docker stats shows as the limit of an unlimited container. */
  machineMemoryBytes(): number {
    this.machineMemory ??= readMemTotalBytes({ procRoot: this.config.procRoot });
    return this.machineMemory;
  }

  /** Null when it is not running (or its cgroup went away meanwhile). */
  usage(view: RunningView): ContainerUsage | null {
    const path = view.cgroupPath;
    if (view.pid === null || path === null) return null;
    let stats: Stats | null;
    try {
      // one operation: each hierarchy's directory is looked up once for the check and the reads
      stats = this.system.files.operation(() => (this.system.exists(path) ? this.system.readStats(path) : null));
    } catch (err) {
      if (err instanceof NsgateError && (err.code === 'CGROUP_NOT_FOUND' || err.code === 'CGROUP_GONE')) return null;
      throw err;
    }
    return stats ? this.usageFrom(view.pid, stats) : null;
  }

  /** What usage() adds to stats already read (GET /metrics reads them with the limits, in one operation); no pid, no network. */
  usageFrom(pid: number | null, stats: Stats): ContainerUsage {
    const workingSet = stats.memory ? workingSetBytes(stats.memory) : null;
    return {
      stats,
      workingSet,
      memoryPercent: stats.memory ? memoryPercent(workingSet, stats.memory.limit, this.machineMemoryBytes()) : null,
      network: pid === null ? null : this.network(pid),
    };
  }

  private network(pid: number): InterfaceCounters[] | null {
    const procRoot = this.config.procRoot;
    try {
      const own = readNamespaceInode(procRoot, pid, 'net');
      const host = this.index.hostNamespaces().net;
      if (own === null || host === null || own === host) return null;
      return readNetworkInterfaces(pid, { procRoot });
    } catch (err) {
      if (err instanceof NsgateError && err.code === 'PROCESS_NOT_FOUND') return null;
      throw err;
    }
  }

  /** Null when it is not running (or its cgroup went away meanwhile). */
  of(view: Pick<ContainerModel, 'id' | 'name'> & RunningView): ContainerStatsModel | null {
    const usage = this.usage(view);
    if (!usage || view.cgroupPath === null) return null;
    const { stats } = usage;
    this.sampler.track(view.cgroupPath);
    const cpu = this.sampler.read(view.cgroupPath);
    const network = usage.network ? sumInterfaces(usage.network) : null;
    return {
      id: view.id,
      name: view.name,
      memory: { usage: stats.memory?.usage ?? null, limit: stats.memory?.limit ?? null, workingSet: usage.workingSet, percent: usage.memoryPercent },
      cpu: { percent: cpu?.percent ?? null, usageNs: cpu?.usageNs ?? stats.cpu?.usageNs ?? null, windowMs: cpu?.windowMs === null || cpu?.windowMs === undefined ? null : Math.round(cpu.windowMs) },
      pids: { current: stats.pids?.current ?? null, limit: stats.pids?.max ?? null },
      blkio: { readBytes: stats.io?.readBytes ?? null, writeBytes: stats.io?.writeBytes ?? null },
      network: network && { rxBytes: network.rxBytes, txBytes: network.txBytes, rxPackets: network.rxPackets, txPackets: network.txPackets, rxErrors: network.rxErrors, txErrors: network.txErrors, rxDropped: network.rxDropped, txDropped: network.txDropped },
      readAt: new Date().toISOString(),
      fromHistory: false,
    };
  }
}
