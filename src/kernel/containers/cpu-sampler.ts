import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StatGroup } from '../cgroups/driver.js';
import { NsgateError } from '../errors.js';
import { clockTicksPerSecond } from '../procfs/start-time.js';

/*
 * Container cpu percent the way `docker stats` computes it, without its one-second wait.
 *
 * Docker's client takes two stats samples and computes
 *   (Δ container cpu ns / Δ host cpu ns) × online cpus × 100
 * where host cpu ns is the sum of the first seven fields of /proc/stat's "cpu" line (user,
 * nice, system, idle, iowait, irq, softirq; steal is left out) in ns, and online cpus the
 * number of cpuN lines. 100 % is one cpu busy. The engine's stats API waits a second to have
 * its two samples; here a background round samples every tracked cgroup every `intervalMs`,
 * and a read compares "now" with a stored sample, so it answers at once.
 */

export interface HostCpu {
  /** The host's cpu time in ns, as Docker sums it (first 7 fields of /proc/stat's cpu line). */
  systemNs: number;
  onlineCpus: number;
}

export interface CpuSample {
  /** The cgroup's cumulative cpu usage in ns. */
  usageNs: number;
  systemNs: number;
  onlineCpus: number;
  /** When it was taken, on the sampler's clock (ms). */
  at: number;
}

export interface CpuReading {
  usageNs: number;
  /** null when there is nothing to compare with yet, or the usage counter went backwards (a new cgroup at the path). */
  percent: number | null;
  /** The time between the compared samples (ms); null without a baseline. */
  windowMs: number | null;
  onlineCpus: number;
  /** This read's sample: pass it back as `since` to get the delta since your own last read. */
  sample: CpuSample;
}

export interface CpuSamplerOptions {
  /** The cgroup's cumulative cpu usage in ns, or null when the cgroup (or its cpu accounting) is gone. */
  readUsageNs: (cgroupPath: string) => number | null;
  /** Default: /proc/stat of the host. */
  readHost?: () => HostCpu;
  /** Background sampling period; default 1000 ms. */
  intervalMs?: number;
  /** Reads compare with the newest sample at least this old (default intervalMs / 2), so a window is never a few ms of noise. */
  minWindowMs?: number;
  /** Paths read but never track()ed are dropped after this long without a read; default 60 s. */
  idleMs?: number;
  /** Monotonic clock in ms; default performance.now. */
  now?: () => number;
  /** Errors of background reads (a read of a cgroup that fails other than by being gone). */
  onError?: (cgroupPath: string, err: unknown) => void;
}

/** Docker's formula; null when the counter went backwards or no host time passed. */
export function cpuPercent(previous: Pick<CpuSample, 'usageNs' | 'systemNs'>, current: Pick<CpuSample, 'usageNs' | 'systemNs' | 'onlineCpus'>): number | null {
  const cpuDelta = current.usageNs - previous.usageNs;
  const systemDelta = current.systemNs - previous.systemNs;
  if (cpuDelta < 0 || systemDelta <= 0) return null;
  return (cpuDelta / systemDelta) * current.onlineCpus * 100;
}

/** /proc/stat's cpu line summed as Docker does, and the number of cpuN lines. */
export function parseProcStatCpu(text: string, ticksPerSecond: number): HostCpu {
  let systemNs: number | undefined;
  let onlineCpus = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    if (line.startsWith('cpu ')) {
      const fields = line.trim().split(/\s+/).slice(1, 8).map(Number);
      if (fields.length < 7 || fields.some((n) => !Number.isFinite(n))) throw new Error(`unreadable /proc/stat cpu line: ${line}`);
      const ticks = fields.reduce((a, b) => a + b, 0);
      systemNs = (ticks * 1e9) / ticksPerSecond;
    } else if (/^cpu\d/.test(line)) {
      onlineCpus++;
    }
  }
  if (systemNs === undefined) throw new Error('/proc/stat has no cpu line');
  return { systemNs, onlineCpus };
}

export function readHostCpu(procRoot = '/proc'): HostCpu {
  return parseProcStatCpu(readFileSync(join(procRoot, 'stat'), 'utf8'), clockTicksPerSecond());
}

/** What the sampler needs of the cgroup layer: CgroupSystem has it (readStats(path).cpu.usageNs). */
export interface CpuUsageSource {
  readStats(cgroupPath: string, groups?: ReadonlySet<StatGroup>): { cpu?: { usageNs: number | null } };
}

/** The sampler needs cpu usage only: not memory.stat, io, pids and PSI of every container every second. */
const CPU_ONLY: ReadonlySet<StatGroup> = new Set(['cpu']);

/**
 * The seam to the cgroup driver: a usage reader over CgroupSystem (or anything shaped like
 * it), reading a cgroup that does not exist (any more) as null.
 *   new CpuSampler({ readUsageNs: usageReaderFrom(CgroupSystem.fromHost()) })
 */
export function usageReaderFrom(source: CpuUsageSource): (cgroupPath: string) => number | null {
  return (cgroupPath) => {
    try {
      return source.readStats(cgroupPath, CPU_ONLY).cpu?.usageNs ?? null;
    } catch (err) {
      if (err instanceof NsgateError && (err.code === 'CGROUP_NOT_FOUND' || err.code === 'CGROUP_GONE')) return null;
      throw err;
    }
  };
}

interface PathState {
  latest?: CpuSample;
  previous?: CpuSample;
  /** track()ed: sampled until untrack(); otherwise until idle for idleMs. */
  pinned: boolean;
  lastReadAt: number;
}

export class CpuSampler {
  readonly intervalMs: number;
  private readonly minWindowMs: number;
  private readonly idleMs: number;
  private readonly readUsageNs: (cgroupPath: string) => number | null;
  private readonly readHost: () => HostCpu;
  private readonly now: () => number;
  private readonly onError?: (cgroupPath: string, err: unknown) => void;
  private readonly paths = new Map<string, PathState>();
  private timer: NodeJS.Timeout | undefined;

  constructor(options: CpuSamplerOptions) {
    this.readUsageNs = options.readUsageNs;
    this.readHost = options.readHost ?? (() => readHostCpu());
    this.intervalMs = options.intervalMs ?? 1000;
    if (!(this.intervalMs > 0)) throw new RangeError(`intervalMs must be positive, not ${this.intervalMs}`);
    this.minWindowMs = options.minWindowMs ?? this.intervalMs / 2;
    this.idleMs = options.idleMs ?? 60_000;
    this.now = options.now ?? (() => performance.now());
    this.onError = options.onError;
  }

  /** Samples the path in the background from now on (its first sample is taken at once). */
  track(cgroupPath: string): void {
    const state = this.paths.get(cgroupPath);
    if (state) {
      state.pinned = true;
      return;
    }
    const fresh: PathState = { pinned: true, lastReadAt: this.now() };
    this.paths.set(cgroupPath, fresh);
    this.sampleInto(cgroupPath, fresh, this.hostOrUndefined());
  }

  untrack(cgroupPath: string): void {
    this.paths.delete(cgroupPath);
  }

  /** Makes exactly these paths the tracked ones (e.g. the running containers' cgroups). */
  setTracked(cgroupPaths: Iterable<string>): void {
    const wanted = new Set(cgroupPaths);
    for (const [path, state] of this.paths) if (state.pinned && !wanted.has(path)) this.paths.delete(path);
    for (const path of wanted) this.track(path);
  }

  tracked(): string[] {
    return [...this.paths.keys()];
  }

  /** Starts the background rounds (the timer does not keep the process alive). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sampleAll(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** One background round: one /proc/stat read, one usage read per path. */
  sampleAll(): void {
    const host = this.hostOrUndefined();
    if (!host) return;
    const now = this.now();
    for (const [path, state] of this.paths) {
      if (!state.pinned && now - state.lastReadAt > this.idleMs) {
        this.paths.delete(path);
        continue;
      }
      this.sampleInto(path, state, host);
    }
  }

  /**
   * The cpu reading of a cgroup now, compared with (in order): the caller's own `since`
   * sample; else the newest stored sample at least minWindowMs old; else the newest one.
   * A path read for the first time has no baseline (percent null) and is sampled from then
   * on. A stored sample older than two intervals (background stopped or stalled) still gives
   * a percent, over its longer window, and is then replaced by this read's sample.
   * Returns null when the cgroup is gone.
   */
  read(cgroupPath: string, options: { since?: CpuSample } = {}): CpuReading | null {
    const usageNs = this.readUsageNs(cgroupPath);
    const host = this.readHost();
    const at = this.now();
    let state = this.paths.get(cgroupPath);
    if (usageNs === null) {
      if (state) state.latest = state.previous = undefined;
      return null;
    }
    const sample: CpuSample = { usageNs, systemNs: host.systemNs, onlineCpus: host.onlineCpus, at };
    if (!state) {
      state = { pinned: false, lastReadAt: at };
      this.paths.set(cgroupPath, state);
    }
    state.lastReadAt = at;

    const baseline = options.since ?? this.baselineOf(state, at);
    if (!options.since && (!state.latest || at - state.latest.at > 2 * this.intervalMs)) this.push(state, sample);
    if (!baseline) return { usageNs, percent: null, windowMs: null, onlineCpus: host.onlineCpus, sample };
    const percent = cpuPercent(baseline, sample);
    if (percent === null && usageNs < baseline.usageNs && !options.since) {
      // A new cgroup at the same path (a restarted container): start over from this read.
      state.previous = undefined;
      state.latest = sample;
    }
    return { usageNs, percent, windowMs: at - baseline.at, onlineCpus: host.onlineCpus, sample };
  }

  private baselineOf(state: PathState, at: number): CpuSample | undefined {
    const { latest, previous } = state;
    if (latest && at - latest.at >= this.minWindowMs) return latest;
    return previous ?? latest;
  }

  private push(state: PathState, sample: CpuSample): void {
    state.previous = state.latest;
    state.latest = sample;
  }

  private sampleInto(path: string, state: PathState, host: HostCpu | undefined): void {
    if (!host) return;
    try {
      const usageNs = this.readUsageNs(path);
      if (usageNs === null) {
        state.latest = state.previous = undefined;
        return;
      }
      this.push(state, { usageNs, systemNs: host.systemNs, onlineCpus: host.onlineCpus, at: this.now() });
    } catch (err) {
      this.onError?.(path, err);
    }
  }

  private hostOrUndefined(): HostCpu | undefined {
    try {
      return this.readHost();
    } catch (err) {
      this.onError?.('/proc/stat', err);
      return undefined;
    }
  }
}
