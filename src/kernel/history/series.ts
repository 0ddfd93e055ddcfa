/*
 * Bounded in-memory usage history of one cgroup: typed arrays, no object per sample.
 *
 * - fine: one slot per second for the last FINE_SLOTS seconds (10 minutes);
 * - coarse: one slot per minute for the last COARSE_SLOTS minutes (24 hours), each holding the
 *   minimum, mean and maximum of that minute's per-second values.
 * A slot remembers which second (minute) it holds, so a slot left over from an earlier lap of
 * the ring, or never written, reads as missing. The coarse ring is made an hour (CHUNK_SLOTS
 * minutes) at a time as the series ages: a young cgroup holds little more than its fine ring. A missing value is NaN (null in answers).
 * Nothing survives a restart of nsgate: history starts when the sampler first sees the cgroup.
 */

/** What is kept per sample, in this order; names are the answer's field names. */
export const METRICS = [
  /** cpu used, in cores (Δ usage ns / Δ wall ns): 1 = one cpu busy. */
  'cpu',
  /** Share of the CFS periods in the interval in which the cgroup was throttled (0..1). */
  'cpuThrottled',
  /** Memory usage, bytes. */
  'memoryUsage',
  /** Usage minus inactive file cache, bytes (what docker stats and the kubelet call working set). */
  'workingSet',
  /** memory failcnt increments in the interval (times the limit was hit). */
  'memoryFailcnt',
  /** OOM kills in the interval. */
  'oomKills',
  /** pids.current. */
  'pids',
  /** PSI: share of wall time in the interval with some / all tasks stalled (Δ total / Δ wall), 0..1. */
  'cpuPressureSome',
  'cpuPressureFull',
  'memoryPressureSome',
  'memoryPressureFull',
  'ioPressureSome',
  'ioPressureFull',
] as const;

export type MetricName = (typeof METRICS)[number];
export const METRIC_COUNT = METRICS.length;
export const METRIC_INDEX: Readonly<Record<MetricName, number>> = Object.fromEntries(METRICS.map((m, i) => [m, i])) as Record<MetricName, number>;

export const FINE_SLOTS = 600;
export const FINE_STEP_MS = 1000;
export const COARSE_SLOTS = 1440;
export const COARSE_STEP_MS = 60_000;

/** min, mean, max per metric per coarse slot. */
const AGG = 3;
/** The coarse ring is allocated an hour at a time, as the series ages. */
export const CHUNK_SLOTS = 60;
const CHUNKS = COARSE_SLOTS / CHUNK_SLOTS;

/** Bytes of a new series: the fine ring, the accumulators and the chunk table. */
export const SERIES_BASE_BYTES =
  FINE_SLOTS * METRIC_COUNT * Float32Array.BYTES_PER_ELEMENT +
  FINE_SLOTS * Uint32Array.BYTES_PER_ELEMENT +
  METRIC_COUNT * (AGG + 2) * Float64Array.BYTES_PER_ELEMENT;
/** Bytes each hour of the coarse ring adds (up to 24 of them). */
export const CHUNK_BYTES = CHUNK_SLOTS * METRIC_COUNT * AGG * Float32Array.BYTES_PER_ELEMENT + CHUNK_SLOTS * Uint32Array.BYTES_PER_ELEMENT;
/** Bytes of a series 24 hours old or more: the most one ever holds. */
export const SERIES_BYTES = SERIES_BASE_BYTES + CHUNKS * CHUNK_BYTES;

/** One point of an answer: per metric min/avg/max over the point's step (null where nothing was recorded). */
export interface HistoryPoint {
  /** Start of the step, ms since the epoch. */
  at: number;
  values: Record<MetricName, { min: number | null; avg: number | null; max: number | null }>;
}

export type Resolution = 'fine' | 'coarse';

export class HistorySeries {
  /** fine[slot * METRIC_COUNT + m] */
  private readonly fine = new Float32Array(FINE_SLOTS * METRIC_COUNT).fill(Number.NaN);
  /** Which second (since the epoch) each fine slot holds; 0 = none. */
  private readonly fineSecond = new Uint32Array(FINE_SLOTS);
  /** Per hour of the ring: values[(slot * METRIC_COUNT + m) * 3 + {0 min, 1 avg, 2 max}], made when first written. */
  private readonly coarse: (Float32Array | undefined)[] = new Array<Float32Array | undefined>(CHUNKS);
  /** Per hour of the ring: which minute each slot holds. */
  private readonly coarseMinute: (Uint32Array | undefined)[] = new Array<Uint32Array | undefined>(CHUNKS);
  /** The minute being accumulated: min, sum, max, count per metric (Float64: sums of bytes). */
  private readonly acc = new Float64Array(METRIC_COUNT * (AGG + 1));
  private accMinute = 0;
  /** First and last sample (ms since the epoch); 0 before any. */
  firstAt = 0;
  lastAt = 0;
  samples = 0;
  /** Per metric: the sum of every value recorded since the start (so counts per interval add up to a total). */
  readonly totals = new Float64Array(METRIC_COUNT);

  constructor() {
    this.resetAcc();
  }

  /** Records one sample taken at `atMs`; `values` holds METRIC_COUNT numbers (NaN = not known). */
  record(atMs: number, values: ArrayLike<number>): void {
    const second = Math.floor(atMs / FINE_STEP_MS);
    const minute = Math.floor(atMs / COARSE_STEP_MS);
    if (second <= 0 || (this.lastAt !== 0 && atMs < this.lastAt)) return;
    if (this.accMinute !== 0 && minute !== this.accMinute) this.flushMinute();
    this.accMinute = minute;
    const slot = second % FINE_SLOTS;
    this.fineSecond[slot] = second;
    const base = slot * METRIC_COUNT;
    for (let m = 0; m < METRIC_COUNT; m++) {
      const v = values[m]!;
      this.fine[base + m] = v;
      if (Number.isNaN(v)) continue;
      this.totals[m]! += v;
      const a = m * (AGG + 1);
      if (v < this.acc[a]!) this.acc[a] = v;
      this.acc[a + 1]! += v;
      if (v > this.acc[a + 2]!) this.acc[a + 2] = v;
      this.acc[a + 3]! += 1;
    }
    if (this.firstAt === 0) this.firstAt = atMs;
    this.lastAt = atMs;
    this.samples++;
  }

  /** Bytes this series holds now (the fine ring and the hours of the coarse ring made so far). */
  bytes(): number {
    let chunks = 0;
    for (const c of this.coarse) if (c) chunks++;
    return SERIES_BASE_BYTES + chunks * CHUNK_BYTES;
  }

  private flushMinute(): void {
    const ringSlot = this.accMinute % COARSE_SLOTS;
    const chunk = Math.floor(ringSlot / CHUNK_SLOTS);
    const slot = ringSlot % CHUNK_SLOTS;
    const values = (this.coarse[chunk] ??= new Float32Array(CHUNK_SLOTS * METRIC_COUNT * AGG).fill(Number.NaN));
    (this.coarseMinute[chunk] ??= new Uint32Array(CHUNK_SLOTS))[slot] = this.accMinute;
    for (let m = 0; m < METRIC_COUNT; m++) {
      const a = m * (AGG + 1);
      const n = this.acc[a + 3]!;
      const at = (slot * METRIC_COUNT + m) * AGG;
      values[at] = n ? this.acc[a]! : Number.NaN;
      values[at + 1] = n ? this.acc[a + 1]! / n : Number.NaN;
      values[at + 2] = n ? this.acc[a + 2]! : Number.NaN;
    }
    this.resetAcc();
  }

  private resetAcc(): void {
    for (let m = 0; m < METRIC_COUNT; m++) {
      const a = m * (AGG + 1);
      this.acc[a] = Number.POSITIVE_INFINITY;
      this.acc[a + 1] = 0;
      this.acc[a + 2] = Number.NEGATIVE_INFINITY;
      this.acc[a + 3] = 0;
    }
  }

  /** One metric's per-second value at `second`, NaN when not recorded (or overwritten since). */
  fineValue(second: number, m: number): number {
    const slot = second % FINE_SLOTS;
    return this.fineSecond[slot] === second ? this.fine[slot * METRIC_COUNT + m]! : Number.NaN;
  }

  /**
   * One minute's min / avg / max of a metric; `minute` may be the one still being accumulated.
   * NaNs when nothing was recorded in it (or it was overwritten since).
   */
  minuteValue(minute: number, m: number, agg: 0 | 1 | 2): number {
    if (minute === this.accMinute) {
      const a = m * (AGG + 1);
      const n = this.acc[a + 3]!;
      if (!n) return Number.NaN;
      return agg === 1 ? this.acc[a + 1]! / n : this.acc[a + agg]!;
    }
    const ringSlot = minute % COARSE_SLOTS;
    const chunk = Math.floor(ringSlot / CHUNK_SLOTS);
    const slot = ringSlot % CHUNK_SLOTS;
    const values = this.coarse[chunk];
    return values && this.coarseMinute[chunk]![slot] === minute ? values[(slot * METRIC_COUNT + m) * AGG + agg]! : Number.NaN;
  }

  /**
   * Points from `fromMs` to `toMs` (inclusive of the step holding `toMs`), `stepMs` apart.
   * The fine ring serves steps that are whole seconds and start within the last FINE_SLOTS
   * seconds; otherwise the coarse one (steps in whole minutes).
   */
  query(fromMs: number, toMs: number, stepMs: number, resolution: Resolution): HistoryPoint[] {
    const unit = resolution === 'fine' ? FINE_STEP_MS : COARSE_STEP_MS;
    const per = Math.max(1, Math.round(stepMs / unit));
    const first = Math.floor(fromMs / unit);
    const last = Math.floor(toMs / unit);
    const points: HistoryPoint[] = [];
    for (let start = first; start <= last; start += per) {
      const values = {} as HistoryPoint['values'];
      for (let m = 0; m < METRIC_COUNT; m++) {
        let min = Number.POSITIVE_INFINITY;
        let max = Number.NEGATIVE_INFINITY;
        let sum = 0;
        let n = 0;
        for (let u = start; u < start + per && u <= last; u++) {
          if (resolution === 'fine') {
            const v = this.fineValue(u, m);
            if (Number.isNaN(v)) continue;
            if (v < min) min = v;
            if (v > max) max = v;
            sum += v;
            n++;
          } else {
            const avg = this.minuteValue(u, m, 1);
            if (Number.isNaN(avg)) continue;
            min = Math.min(min, this.minuteValue(u, m, 0));
            max = Math.max(max, this.minuteValue(u, m, 2));
            sum += avg;
            n++;
          }
        }
        values[METRICS[m]!] = n ? { min, avg: sum / n, max } : { min: null, avg: null, max: null };
      }
      points.push({ at: start * unit, values });
    }
    return points;
  }
}
