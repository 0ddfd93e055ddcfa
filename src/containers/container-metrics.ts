import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import type { Limits, PressureFile } from '../kernel/cgroups/driver.js';
import { CgroupSystem } from '../kernel/cgroups/system.js';
import { readHostCpu } from '../kernel/containers/cpu-sampler.js';
import { NsgateError } from '../kernel/errors.js';
import { readProcessClock } from '../kernel/procfs/start-time.js';
import type { InterfaceCounters } from '../kernel/procfs/net-dev.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ContainerIndex, type IndexedContainer } from './container-index.js';
import { ContainerStats, type ContainerUsage } from './container-stats.js';

/*
 * Per-container series under cAdvisor's (and the kubelet's /metrics/cadvisor) names, units and
 * labels, so dashboards and alerts written for them work against nsgate unchanged:
 * `id` is the cgroup path, `name` the container's name, `image` its image as it was run.
 * The cgroups nsgate manages get the same series, labelled by their path alone (name="", image="").
 * A scrape reads every running container once, through ContainerStats (the same reads as
 * GET /v1/containers/{id}/stats) plus its limits and process count, from the live model: the
 * engine is never asked. Differences from cAdvisor, on purpose:
 * - container_cpu_usage_seconds_total has cpu="total" only (cAdvisor's default without per-cpu);
 * - container_memory_failcnt is typed gauge: Prometheus' lint (promtool check metrics) refuses
 *   a counter whose name does not end in _total, and queries do not look at the type;
 * - container_oom_events_total is the cgroup's own OOM-kill counter (v1 memory.oom_control,
 *   v2 memory.events oom_kill), not a count of kernel log lines.
 */

export const BASE_LABELS = ['id', 'name', 'image'] as const;

/** How far below each managed prefix, and how many managed cgroups in all, a scrape reads. */
const MANAGED_DEPTH = 8;
const MANAGED_MAX_NODES = 500;

/** One running container as a scrape saw it. */
export interface ContainerSeries {
  labels: Record<(typeof BASE_LABELS)[number], string>;
  usage: ContainerUsage;
  limits: Limits;
  processes: number | null;
  startTimeSeconds: number | null;
}

interface Snapshot {
  containers: ContainerSeries[];
  /** Unix seconds at the read. */
  at: number;
  machineCpuCores: number;
  machineMemoryBytes: number;
}

type Sample = [extra: Record<string, string>, value: number];
/** A value, or null when the kernel has none for this container; or samples with extra labels. */
type ValueOf = (c: ContainerSeries, s: Snapshot) => number | null | undefined | Sample[];

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  extraLabels?: readonly string[];
  value: ValueOf;
}

const seconds = (ns: number | null | undefined): number | null => (ns === null || ns === undefined ? null : ns / 1e9);
const quota = (c: ContainerSeries): boolean => c.limits.cpu?.quotaUs !== null && c.limits.cpu?.quotaUs !== undefined;

function pressure(name: 'cpu' | 'memory' | 'io', line: 'some' | 'full', what: string): Family {
  const kind = line === 'some' ? 'waiting' : 'stalled';
  return {
    name: `container_pressure_${name}_${kind}_seconds_total`,
    help:
      line === 'some'
        ? `Seconds in which at least one task of the container waited for ${what} (PSI "some" total)`
        : `Seconds in which every non-idle task of the container waited for ${what} at once (PSI "full" total)`,
    type: 'counter',
    value: (c) => {
      const file: PressureFile | null | undefined = c.usage.stats.pressure?.[name];
      const total = file?.[line]?.total;
      return total === undefined ? null : total / 1e6;
    },
  };
}

function network(field: keyof Omit<InterfaceCounters, 'interface'>, name: string, help: string): Family {
  return {
    name,
    help: `${help}, per interface of the container's network namespace (loopback left out)`,
    type: 'counter',
    extraLabels: ['interface'],
    value: (c) => c.usage.network?.map((i): Sample => [{ interface: i.interface }, i[field]]) ?? null,
  };
}

export const CONTAINER_FAMILIES: readonly Family[] = [
  { name: 'container_last_seen', help: 'Unix time at which nsgate last read the container', type: 'gauge', value: (_c, s) => s.at },
  { name: 'container_start_time_seconds', help: "Unix time at which the container's init process started", type: 'gauge', value: (c) => c.startTimeSeconds },
  {
    name: 'container_cpu_usage_seconds_total',
    help: 'CPU time the cgroup consumed, in seconds (cpu="total": all CPUs together)',
    type: 'counter',
    extraLabels: ['cpu'],
    value: (c) => {
      const v = seconds(c.usage.stats.cpu?.usageNs);
      return v === null ? null : [[{ cpu: 'total' }, v]];
    },
  },
  { name: 'container_cpu_user_seconds_total', help: 'CPU time the cgroup consumed in user mode, in seconds', type: 'counter', value: (c) => seconds(c.usage.stats.cpu?.userNs) },
  { name: 'container_cpu_system_seconds_total', help: 'CPU time the cgroup consumed in kernel mode, in seconds', type: 'counter', value: (c) => seconds(c.usage.stats.cpu?.systemNs) },
  {
    name: 'container_cpu_cfs_periods_total',
    help: 'CFS enforcement periods that have elapsed (only while a CPU quota is set)',
    type: 'counter',
    value: (c) => (quota(c) ? c.usage.stats.cpu?.nrPeriods : null),
  },
  {
    name: 'container_cpu_cfs_throttled_periods_total',
    help: 'CFS periods in which the cgroup used up its quota and was throttled (only while a CPU quota is set)',
    type: 'counter',
    value: (c) => (quota(c) ? c.usage.stats.cpu?.nrThrottled : null),
  },
  {
    name: 'container_cpu_cfs_throttled_seconds_total',
    help: 'Time the cgroup spent throttled by its CPU quota, in seconds (only while a CPU quota is set)',
    type: 'counter',
    value: (c) => {
      const us = c.usage.stats.cpu?.throttledUs;
      return quota(c) && us !== null && us !== undefined ? us / 1e6 : null;
    },
  },
  {
    name: 'container_memory_usage_bytes',
    help: 'Memory the cgroup uses, page cache included (v1 memory.usage_in_bytes, v2 memory.current)',
    type: 'gauge',
    value: (c) => c.usage.stats.memory?.usage,
  },
  {
    name: 'container_memory_working_set_bytes',
    help: 'Memory usage minus inactive file pages: what docker stats shows as MEM USAGE',
    type: 'gauge',
    value: (c) => c.usage.workingSet,
  },
  { name: 'container_memory_rss', help: 'Anonymous memory of the cgroup (v1 total_rss, v2 anon), in bytes', type: 'gauge', value: (c) => c.usage.stats.memory?.anon },
  { name: 'container_memory_cache', help: 'Page cache of the cgroup (v1 total_cache, v2 file), in bytes', type: 'gauge', value: (c) => c.usage.stats.memory?.file },
  { name: 'container_memory_swap', help: 'Swap the cgroup uses (v1 total_swap, v2 memory.swap.current), in bytes', type: 'gauge', value: (c) => c.usage.stats.memory?.swap },
  {
    name: 'container_memory_max_usage_bytes',
    help: 'Highest memory usage recorded for the cgroup (v1 memory.max_usage_in_bytes, v2 memory.peak), in bytes',
    type: 'gauge',
    value: (c) => c.usage.stats.memory?.peak,
  },
  {
    name: 'container_memory_failcnt',
    help: 'Times the cgroup hit its memory limit (v1 memory.failcnt, v2 memory.events max); a cumulative count',
    type: 'gauge',
    value: (c) => c.usage.stats.memory?.failcnt,
  },
  {
    name: 'container_oom_events_total',
    help: "Processes of the cgroup the kernel's OOM killer killed (v1 memory.oom_control oom_kill, v2 memory.events oom_kill)",
    type: 'counter',
    value: (c) => c.usage.stats.memory?.oomKills,
  },
  {
    name: 'container_spec_memory_limit_bytes',
    help: 'Memory limit of the cgroup in bytes; 0 when unlimited',
    type: 'gauge',
    value: (c) => (c.limits.memory ? (c.limits.memory.max ?? 0) : null),
  },
  {
    name: 'container_spec_cpu_quota',
    help: 'CFS quota of the cgroup in microseconds per period (only while one is set)',
    type: 'gauge',
    value: (c) => (quota(c) ? c.limits.cpu!.quotaUs : null),
  },
  { name: 'container_spec_cpu_period', help: 'CFS period of the cgroup in microseconds', type: 'gauge', value: (c) => c.limits.cpu?.periodUs },
  { name: 'container_spec_cpu_shares', help: 'CPU shares of the cgroup (v1 cpu.shares; on v2 converted from cpu.weight)', type: 'gauge', value: (c) => c.limits.cpu?.shares },
  { name: 'container_processes', help: 'Processes in the cgroup (cgroup.procs)', type: 'gauge', value: (c) => c.processes },
  { name: 'container_threads', help: 'Tasks (threads) in the cgroup (pids.current)', type: 'gauge', value: (c) => c.usage.stats.pids?.current },
  {
    name: 'container_threads_max',
    help: 'Task limit of the cgroup (pids.max); 0 when unlimited',
    type: 'gauge',
    value: (c) => (c.limits.pids ? (c.limits.pids.max ?? 0) : null),
  },
  pressure('cpu', 'some', 'CPU'),
  pressure('cpu', 'full', 'CPU'),
  pressure('memory', 'some', 'memory'),
  pressure('memory', 'full', 'memory'),
  pressure('io', 'some', 'I/O'),
  pressure('io', 'full', 'I/O'),
  network('rxBytes', 'container_network_receive_bytes_total', 'Bytes received'),
  network('rxPackets', 'container_network_receive_packets_total', 'Packets received'),
  network('rxErrors', 'container_network_receive_errors_total', 'Errors while receiving'),
  network('rxDropped', 'container_network_receive_packets_dropped_total', 'Packets dropped while receiving'),
  network('txBytes', 'container_network_transmit_bytes_total', 'Bytes sent'),
  network('txPackets', 'container_network_transmit_packets_total', 'Packets sent'),
  network('txErrors', 'container_network_transmit_errors_total', 'Errors while sending'),
  network('txDropped', 'container_network_transmit_packets_dropped_total', 'Packets dropped while sending'),
];

function gone(err: unknown): boolean {
  return err instanceof NsgateError && ['CGROUP_NOT_FOUND', 'CGROUP_GONE', 'PROCESS_NOT_FOUND'].includes(err.code);
}

/**
 * Registers the container and machine families in /metrics' registry. One read of every running
 * container serves all the families of one scrape (they are collected together).
 */
@Injectable()
export class ContainerMetrics implements OnModuleInit {
  private readonly logger = new Logger('metrics');
  private current: Promise<Snapshot> | null = null;
  private lastReadSeconds = 0;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly metrics: MetricsService,
    private readonly system: CgroupSystem,
    private readonly index: ContainerIndex,
    private readonly stats: ContainerStats,
  ) {}

  onModuleInit(): void {
    const registers = [this.metrics.registry];
    const snapshot = () => this.snapshot();
    for (const family of CONTAINER_FAMILIES) {
      const labelNames = [...BASE_LABELS, ...(family.extraLabels ?? [])];
      const options = { name: family.name, help: family.help, labelNames, registers };
      // a counter only goes up (inc from its reset 0), a gauge is set: the same samples either way
      if (family.type === 'counter') {
        new Counter({ ...options, async collect() { fill(this, samplesOf(family, await snapshot()), (labels, value) => this.inc(labels, value)); } });
      } else {
        new Gauge({ ...options, async collect() { fill(this, samplesOf(family, await snapshot()), (labels, value) => this.set(labels, value)); } });
      }
    }
    new Gauge({
      name: 'machine_cpu_cores',
      help: 'Online logical CPUs of the host',
      registers,
      async collect() {
        this.set((await snapshot()).machineCpuCores);
      },
    });
    new Gauge({
      name: 'machine_memory_bytes',
      help: "The host's memory (MemTotal) in bytes",
      registers,
      async collect() {
        this.set((await snapshot()).machineMemoryBytes);
      },
    });
    const lastRead = () => this.lastReadSeconds;
    new Gauge({
      name: 'nsgate_container_metrics_read_seconds',
      help: "Time this scrape took to read every running container's cgroup, limits and network counters",
      registers,
      async collect() {
        await snapshot();
        this.set(lastRead());
      },
    });
  }

  /** Every family of one scrape is collected in the same turn of the event loop: they share this read. */
  private snapshot(): Promise<Snapshot> {
    if (!this.current) {
      const read = this.read();
      this.current = read;
      const clear = () => setImmediate(() => (this.current = null));
      read.then(clear, clear);
    }
    return this.current;
  }

  /** Every running container, read once. */
  private async read(): Promise<Snapshot> {
    const started = performance.now();
    let containers: IndexedContainer[] = [];
    try {
      containers = await this.index.all();
    } catch (err) {
      // the engine never answered: no container series, nsgate's own metrics still serve
      if (!(err instanceof NsgateError && err.code === 'ENGINE_UNAVAILABLE')) throw err;
    }
    const procRoot = this.config.procRoot;
    const clock = readProcessClock({ procRoot });
    const series: ContainerSeries[] = [];
    for (const c of containers) {
      if (c.pid === null || c.cgroupPath === null) continue;
      try {
        const path = c.cgroupPath;
        // the cgroup layer's readers, in one operation: each directory is looked up once for all three
        const cgroup = this.system.files.operation(() => ({ stats: this.system.readStats(path), limits: this.system.readLimits(path), processes: this.system.processes(path) }));
        series.push({
          labels: { id: path, name: c.name, image: c.image ?? '' },
          usage: this.stats.usageFrom(c.pid, cgroup.stats),
          limits: cgroup.limits,
          processes: cgroup.processes.length,
          startTimeSeconds: c.startTimeTicks === null ? null : clock.bootTimeMs / 1000 + c.startTimeTicks / clock.ticksPerSecond,
        });
      } catch (err) {
        // it stopped during the read: it is simply not in this scrape
        if (gone(err)) continue;
        this.logger.warn(`metrics of container ${c.name}: ${(err as Error).message}`);
      }
    }
    this.readManaged(series);
    const snap: Snapshot = {
      containers: series,
      at: Math.floor(Date.now() / 1000),
      machineCpuCores: readHostCpu(procRoot).onlineCpus,
      machineMemoryBytes: this.stats.machineMemoryBytes(),
    };
    this.lastReadSeconds = (performance.now() - started) / 1000;
    return snap;
  }

  /**
   * The cgroups nsgate manages (NSGATE_MANAGED_CGROUPS and below), labelled by their path with
   * `name` and `image` empty, as cAdvisor labels cgroups that are not containers. Bounded: at most
   * MANAGED_DEPTH levels and MANAGED_MAX_NODES cgroups a scrape; a container's cgroup is not repeated.
   */
  private readManaged(series: ContainerSeries[]): void {
    const seen = new Set(series.map((s) => s.labels.id));
    let budget = MANAGED_MAX_NODES;
    for (const under of this.system.managed) {
      if (budget <= 0) break;
      let paths: string[];
      try {
        if (!this.system.exists(under)) continue;
        paths = this.system.list({ under, depth: MANAGED_DEPTH, maxNodes: budget }).items.map((n) => n.path);
      } catch (err) {
        if (!gone(err)) this.logger.warn(`metrics of managed cgroups under ${under}: ${(err as Error).message}`);
        continue;
      }
      for (const path of paths) {
        if (seen.has(path) || budget <= 0) continue;
        seen.add(path);
        budget--;
        try {
          const cgroup = this.system.files.operation(() => ({ stats: this.system.readStats(path), limits: this.system.readLimits(path), processes: this.system.processes(path) }));
          series.push({ labels: { id: path, name: '', image: '' }, usage: this.stats.usageFrom(null, cgroup.stats), limits: cgroup.limits, processes: cgroup.processes.length, startTimeSeconds: null });
        } catch (err) {
          if (!gone(err)) this.logger.warn(`metrics of cgroup ${path}: ${(err as Error).message}`);
        }
      }
    }
  }
}

function samplesOf(family: Family, snap: Snapshot): [Record<string, string>, number][] {
  const out: [Record<string, string>, number][] = [];
  for (const c of snap.containers) {
    const v = family.value(c, snap);
    if (v === null || v === undefined) continue;
    if (typeof v === 'number') {
      if (Number.isFinite(v)) out.push([c.labels, v]);
      continue;
    }
    for (const [extra, value] of v) if (Number.isFinite(value)) out.push([{ ...c.labels, ...extra }, value]);
  }
  return out;
}

/** A collect()'s work: the metric starts empty each scrape, then takes every sample. */
function fill<L>(metric: { reset(): void }, samples: Iterable<[L, number]>, put: (labels: L, value: number) => void): void {
  metric.reset();
  for (const [labels, value] of samples) put(labels, value);
}
