import type { Stats } from '../cgroups/driver.js';
import { workingSetBytes } from '../containers/memory-usage.js';
import { NsgateError } from '../errors.js';
import { HistorySeries, METRIC_COUNT, METRIC_INDEX, SERIES_BYTES } from './series.js';

/*
 * One sampler for every tracked cgroup: each round reads each cgroup's stats once (through the
 * cgroup layer's one reader, CgroupSystem.readStats) and records, per cgroup, the values of the
 * interval since the previous round. Counters (cpu usage, throttled periods, failcnt, OOM kills,
 * PSI totals) become rates or counts per interval; a counter that went backwards (a new cgroup
 * at the same path) gives NaN for that interval and restarts from the new value.
 */

/** The raw counters kept from the previous round, per cgroup. */
const C_USAGE = 0;
const C_PERIODS = 1;
const C_THROTTLED = 2;
const C_FAILCNT = 3;
const C_OOM = 4;
const C_PSI = 5; // six PSI totals (µs): cpu some/full, memory some/full, io some/full
const C_AT = 11;
const COUNTERS = 12;
/** Cgroups read between two yields to the event loop. */
const SLICE = 20;

interface Tracked {
  series: HistorySeries;
  /** Previous round's raw counters (NaN = not known). */
  prev: Float64Array;
  /** This round's, swapped with prev after each record: no allocation per sample. */
  cur: Float64Array;
}

export interface HistorySamplerOptions {
  /** A cgroup's stats (CgroupSystem.readStats); CGROUP_NOT_FOUND / CGROUP_GONE when it is gone. */
  readStats: (cgroupPath: string) => Stats;
  /** Round period; default 1000 ms (the fine ring's resolution). */
  intervalMs?: number;
  /** At most this many cgroups are tracked; more are refused (and counted in `refused`). Default 1000. */
  maxTracked?: number;
  /** Wall clock, ms since the epoch; default Date.now. */
  now?: () => number;
  onError?: (cgroupPath: string, err: unknown) => void;
}

export interface HistorySamplerStatus {
  tracked: number;
  maxTracked: number;
  /** Paths not tracked because maxTracked was reached (in the last setTracked). */
  refused: number;
  /** The most one cgroup's rings hold (24 hours old or more). */
  bytesPerCgroup: number;
  /** What the rings of every tracked and retired cgroup hold now. */
  bytes: number;
  intervalMs: number;
  rounds: number;
  /** Time the last round took, ms. */
  lastRoundMs: number;
}

export class HistorySampler {
  readonly intervalMs: number;
  readonly maxTracked: number;
  private readonly readStats: (path: string) => Stats;
  private readonly now: () => number;
  private readonly onError?: (path: string, err: unknown) => void;
  private readonly paths = new Map<string, Tracked>();
  /** Series of cgroups no longer tracked (a stopped container): kept, read-only, until `retainMs` after their last sample. */
  private readonly retired = new Map<string, HistorySeries>();
  private readonly values = new Float64Array(METRIC_COUNT);
  private timer: NodeJS.Timeout | undefined;
  private inRound = false;
  private stopped = false;
  private refused = 0;
  private rounds = 0;
  private lastRoundMs = 0;
  /** How long a retired series stays readable. */
  readonly retainMs = 10 * 60_000;

  constructor(options: HistorySamplerOptions) {
    this.readStats = options.readStats;
    this.intervalMs = options.intervalMs ?? 1000;
    this.maxTracked = options.maxTracked ?? 1000;
    this.now = options.now ?? Date.now;
    this.onError = options.onError;
  }

  start(): void {
    if (this.timer) return;
    this.stopped = false;
    this.timer = setInterval(() => void this.sampleRound(), this.intervalMs);
    this.timer.unref();
  }

  /**
   * One round in slices of SLICE cgroups, yielding to the event loop between them, so requests
   * are answered while 200 cgroups are read (a whole round at once would hold the loop for
   * 100 ms and more). A round still running when the next is due makes that one skip.
   */
  async sampleRound(): Promise<void> {
    if (this.inRound) return;
    this.inRound = true;
    const started = performance.now();
    try {
      const paths = [...this.paths.keys()];
      for (let i = 0; i < paths.length; i += SLICE) {
        if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        // stopped meanwhile (the application closing): no more reads
        if (this.stopped) return;
        for (const path of paths.slice(i, i + SLICE)) {
          const t = this.paths.get(path);
          if (t) this.sampleOne(path, t);
        }
      }
      this.rounds++;
      this.lastRoundMs = performance.now() - started;
    } finally {
      this.inRound = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.stopped = true;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Makes exactly these the tracked cgroups (in order, up to maxTracked); dropped ones are retired, still readable for a while. */
  setTracked(cgroupPaths: Iterable<string>): void {
    const wanted = new Set<string>();
    this.refused = 0;
    for (const p of cgroupPaths) {
      if (wanted.has(p)) continue;
      if (wanted.size >= this.maxTracked) {
        this.refused++;
        continue;
      }
      wanted.add(p);
    }
    for (const [path, t] of this.paths) {
      if (!wanted.has(path)) {
        this.paths.delete(path);
        if (t.series.samples > 0) this.retired.set(path, t.series);
      }
    }
    for (const path of wanted) {
      if (this.paths.has(path)) continue;
      const series = this.retired.get(path) ?? new HistorySeries();
      this.retired.delete(path);
      this.paths.set(path, { series, prev: new Float64Array(COUNTERS).fill(Number.NaN), cur: new Float64Array(COUNTERS) });
    }
    const cutoff = this.now() - this.retainMs;
    for (const [path, s] of this.retired) if (s.lastAt < cutoff) this.retired.delete(path);
    // many containers come and go: keep at most maxTracked retired series, the newest (a Map iterates oldest first)
    for (const path of this.retired.keys()) {
      if (this.retired.size <= this.maxTracked) break;
      this.retired.delete(path);
    }
  }

  tracked(): string[] {
    return [...this.paths.keys()];
  }

  /** The series of a tracked (or recently retired) cgroup; undefined when nsgate keeps none. */
  series(cgroupPath: string): HistorySeries | undefined {
    return this.paths.get(cgroupPath)?.series ?? this.retired.get(cgroupPath);
  }

  isTracked(cgroupPath: string): boolean {
    return this.paths.has(cgroupPath);
  }

  status(): HistorySamplerStatus {
    let bytes = 0;
    for (const t of this.paths.values()) bytes += t.series.bytes();
    for (const s of this.retired.values()) bytes += s.bytes();
    return {
      tracked: this.paths.size,
      maxTracked: this.maxTracked,
      refused: this.refused,
      bytesPerCgroup: SERIES_BYTES,
      bytes,
      intervalMs: this.intervalMs,
      rounds: this.rounds,
      lastRoundMs: this.lastRoundMs,
    };
  }

  /** One round at once: one stats read per tracked cgroup (tests and benches; the timer runs sampleRound). */
  sampleAll(): void {
    const started = performance.now();
    for (const [path, t] of this.paths) this.sampleOne(path, t);
    this.rounds++;
    this.lastRoundMs = performance.now() - started;
  }

  private sampleOne(path: string, t: Tracked): void {
    let stats: Stats;
    try {
      stats = this.readStats(path);
    } catch (err) {
      // gone between rounds: the next setTracked retires it; meanwhile no sample
      if (!(err instanceof NsgateError && (err.code === 'CGROUP_NOT_FOUND' || err.code === 'CGROUP_GONE'))) this.onError?.(path, err);
      t.prev.fill(Number.NaN);
      return;
    }
    this.record(t, stats, this.now());
  }

  /** Turns one stats reading into one sample (exported for tests through `recordStats`). */
  private record(t: Tracked, stats: Stats, at: number): void {
    const prev = t.prev;
    const v = this.values;
    const dtMs = at - prev[C_AT]!;
    const cur = t.cur;
    cur[C_USAGE] = stats.cpu?.usageNs ?? Number.NaN;
    cur[C_PERIODS] = stats.cpu?.nrPeriods ?? Number.NaN;
    cur[C_THROTTLED] = stats.cpu?.nrThrottled ?? Number.NaN;
    cur[C_FAILCNT] = stats.memory?.failcnt ?? Number.NaN;
    cur[C_OOM] = stats.memory?.oomKills ?? Number.NaN;
    const p = stats.pressure;
    cur[C_PSI] = p?.cpu?.some?.total ?? Number.NaN;
    cur[C_PSI + 1] = p?.cpu?.full?.total ?? Number.NaN;
    cur[C_PSI + 2] = p?.memory?.some?.total ?? Number.NaN;
    cur[C_PSI + 3] = p?.memory?.full?.total ?? Number.NaN;
    cur[C_PSI + 4] = p?.io?.some?.total ?? Number.NaN;
    cur[C_PSI + 5] = p?.io?.full?.total ?? Number.NaN;
    cur[C_AT] = at;
    const delta = (i: number): number => {
      const d = cur[i]! - prev[i]!;
      return d >= 0 ? d : Number.NaN; // NaN when either is unknown or the counter restarted
    };
    const ok = dtMs > 0;
    v[METRIC_INDEX.cpu] = ok ? delta(C_USAGE) / (dtMs * 1e6) : Number.NaN;
    const periods = delta(C_PERIODS);
    v[METRIC_INDEX.cpuThrottled] = periods > 0 ? Math.min(1, delta(C_THROTTLED) / periods) : periods === 0 ? 0 : Number.NaN;
    v[METRIC_INDEX.memoryUsage] = stats.memory?.usage ?? Number.NaN;
    v[METRIC_INDEX.workingSet] = (stats.memory ? workingSetBytes(stats.memory) : null) ?? Number.NaN;
    v[METRIC_INDEX.memoryFailcnt] = delta(C_FAILCNT);
    v[METRIC_INDEX.oomKills] = delta(C_OOM);
    v[METRIC_INDEX.pids] = stats.pids?.current ?? Number.NaN;
    const psi = ['cpuPressureSome', 'cpuPressureFull', 'memoryPressureSome', 'memoryPressureFull', 'ioPressureSome', 'ioPressureFull'] as const;
    for (let i = 0; i < psi.length; i++) v[METRIC_INDEX[psi[i]!]] = ok ? Math.min(1, delta(C_PSI + i) / (dtMs * 1000)) : Number.NaN;
    t.cur = prev;
    t.prev = cur;
    // the first round only sets the counters' baseline; gauges are worth keeping already
    t.series.record(at, v);
  }

  /** Test seam: records `stats` for `path` at `at` as a round would (the path is tracked if it is not). */
  recordStats(path: string, stats: Stats, at: number): void {
    if (!this.paths.has(path)) this.setTracked([...this.paths.keys(), path]);
    this.record(this.paths.get(path)!, stats, at);
  }
}
