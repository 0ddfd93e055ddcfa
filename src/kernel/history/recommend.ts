import type { CpuLimits, MemoryLimits } from '../cgroups/driver.js';
import { FINE_SLOTS, FINE_STEP_MS, COARSE_STEP_MS, type HistorySeries, METRIC_INDEX, type MetricName } from './series.js';

/*
 * Limit recommendations from a cgroup's history. Pure arithmetic on the recorded series: nothing
 * here reads or writes the kernel, and nsgate never applies what it recommends.
 *
 * Which values count: the per-second values of the last ten minutes, and for older minutes of
 * the last 24 hours each minute's mean (percentiles) and maximum (peaks). So a peak is the
 * highest second ever recorded, and a percentile leans on the recent seconds.
 *
 * Guard rails: memory is never recommended below the working-set peak plus a headroom; a cpu
 * quota never below the observed p95 usage; when a limit is the cause of the pressure,
 * throttling, failcnt or OOM kills seen, it is flagged and the recommendation raises it.
 */

export const MiB = 1024 * 1024;
/** Fewer samples than this (seconds of history): no recommendation, confidence "none". */
export const MIN_SAMPLES = 30;
/** Headroom over the working-set peak: memory.max gets the larger of 20 % and 16 MiB; memory.high the larger of 10 % and 8 MiB. */
export const MAX_HEADROOM = { share: 0.2, bytes: 16 * MiB };
export const HIGH_HEADROOM = { share: 0.1, bytes: 8 * MiB };
/** The smallest memory limit nsgate accepts (limits.ts). */
const MEMORY_FLOOR = 6 * MiB;
/** Throttled in at least this share of periods: the quota is the cause. */
export const THROTTLED_CAUSE = 0.05;
/** Usage p95 at this share of the quota or more: the quota is the cause (usage cannot show demand above it). */
const QUOTA_NEAR = 0.9;
/** A mean PSI "some" share above this counts as pressure. */
export const PRESSURE_CAUSE = 0.05;

export type Confidence = 'none' | 'low' | 'medium' | 'high';

export interface Spread {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export interface PressureEvidence {
  /** Mean share of time stalled over the window (0..1). */
  avg: number | null;
  /** Highest per-second (per-minute for older history) share. */
  max: number | null;
}

export interface Window {
  from: string | null;
  to: string | null;
  seconds: number;
  samples: number;
}

export interface MemoryRecommendation {
  current: { max: number | null; high: number | null };
  recommended: { max: number; high: number | null } | null;
  evidence: {
    window: Window;
    workingSet: Spread;
    /** Highest working set recorded: the floor of any recommendation (plus headroom). */
    workingSetPeak: number | null;
    usagePeak: number | null;
    /** Times the limit was hit (v1 failcnt, v2 memory.events max) while recorded. */
    failcnt: number;
    oomKills: number;
    pressureSome: PressureEvidence;
    pressureFull: PressureEvidence;
    headroomBytes: number | null;
  };
  /** True when the current limit is what causes the failcnt, OOM kills or pressure seen. */
  limitIsCause: boolean;
  confidence: Confidence;
  reasons: string[];
}

export interface CpuRecommendation {
  current: { quotaUs: number | null; periodUs: number; weight: number } | null;
  recommended: { quotaUs: number; periodUs: number; weight: number } | null;
  evidence: {
    window: Window;
    /** cpu used, in cores (1 = one cpu busy). */
    usageCores: Spread;
    /** Share of CFS periods in which the cgroup was throttled, over the window. */
    throttledShare: number | null;
    /** Share of seconds with any throttling. */
    throttledSecondsShare: number | null;
    pressureSome: PressureEvidence;
  };
  limitIsCause: boolean;
  confidence: Confidence;
  reasons: string[];
}

export interface Recommendation {
  memory: MemoryRecommendation | null;
  cpu: CpuRecommendation | null;
  /** Always false: nsgate only recommends. */
  applied: false;
}

export interface RecommendInput {
  series: HistorySeries;
  /** ms since the epoch. */
  now: number;
  memory?: MemoryLimits;
  cpu?: CpuLimits;
  /** memory.high can be set here (cgroup v2 memory controller). */
  memoryHigh: boolean;
}

interface Collected {
  /** Values percentiles are taken from (sorted ascending). */
  sorted: number[];
  peak: number | null;
  mean: number | null;
  /** Share of values above zero. */
  nonZeroShare: number | null;
}

/** Per-second values of the last ten minutes and, before them, each minute's mean (peaks: its max). */
export function collect(series: HistorySeries, metric: MetricName, now: number): Collected {
  const m = METRIC_INDEX[metric];
  const values: number[] = [];
  let peak = Number.NEGATIVE_INFINITY;
  const lastSecond = Math.floor(now / FINE_STEP_MS);
  const firstFine = Math.max(Math.floor(series.firstAt / FINE_STEP_MS), lastSecond - FINE_SLOTS + 1);
  if (series.samples === 0) return { sorted: [], peak: null, mean: null, nonZeroShare: null };
  const fineStartMinute = Math.floor((firstFine * FINE_STEP_MS) / COARSE_STEP_MS);
  for (let minute = Math.floor(series.firstAt / COARSE_STEP_MS); minute < fineStartMinute; minute++) {
    const avg = series.minuteValue(minute, m, 1);
    if (Number.isNaN(avg)) continue;
    values.push(avg);
    peak = Math.max(peak, series.minuteValue(minute, m, 2));
  }
  for (let s = firstFine; s <= lastSecond; s++) {
    const v = series.fineValue(s, m);
    if (Number.isNaN(v)) continue;
    values.push(v);
    if (v > peak) peak = v;
  }
  if (values.length === 0) return { sorted: [], peak: null, mean: null, nonZeroShare: null };
  values.sort((a, b) => a - b);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { sorted: values, peak, mean, nonZeroShare: values.filter((v) => v > 0).length / values.length };
}

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

function spread(c: Collected): Spread {
  return { p50: percentile(c.sorted, 50), p95: percentile(c.sorted, 95), p99: percentile(c.sorted, 99), max: c.peak };
}

function windowOf(series: HistorySeries): Window {
  return {
    from: series.firstAt ? new Date(series.firstAt).toISOString() : null,
    to: series.lastAt ? new Date(series.lastAt).toISOString() : null,
    seconds: series.samples ? Math.round((series.lastAt - series.firstAt) / 1000) : 0,
    samples: series.samples,
  };
}

function confidenceOf(w: Window): Confidence {
  if (w.samples < MIN_SAMPLES) return 'none';
  if (w.seconds < 600) return 'low';
  if (w.seconds < 6 * 3600) return 'medium';
  return 'high';
}

const ceilMiB = (bytes: number): number => Math.ceil(bytes / MiB) * MiB;
const pct = (share: number): string => `${(share * 100).toFixed(1)} %`;
const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
const cores = (n: number): string => `${n.toFixed(3)} cores`;

function tooLittle(w: Window): string {
  return `only ${w.samples} second(s) of history (since ${w.from ?? 'never'}); at least ${MIN_SAMPLES} are needed before nsgate recommends anything (history is in memory and starts again when nsgate restarts)`;
}

export function recommendMemory(input: RecommendInput): MemoryRecommendation | null {
  if (!input.memory) return null;
  const { series, now } = input;
  const window = windowOf(series);
  const ws = collect(series, 'workingSet', now);
  const usage = collect(series, 'memoryUsage', now);
  const some = collect(series, 'memoryPressureSome', now);
  const full = collect(series, 'memoryPressureFull', now);
  const failcnt = Math.round(series.totals[METRIC_INDEX.memoryFailcnt]!);
  const oomKills = Math.round(series.totals[METRIC_INDEX.oomKills]!);
  const current = { max: input.memory.max, high: input.memoryHigh ? input.memory.high : null };
  const peak = ws.peak;
  const headroom = peak === null ? null : Math.max(peak * MAX_HEADROOM.share, MAX_HEADROOM.bytes);
  const out: MemoryRecommendation = {
    current,
    recommended: null,
    evidence: {
      window,
      workingSet: spread(ws),
      workingSetPeak: peak,
      usagePeak: usage.peak,
      failcnt,
      oomKills,
      pressureSome: { avg: some.mean, max: some.peak },
      pressureFull: { avg: full.mean, max: full.peak },
      headroomBytes: headroom,
    },
    limitIsCause: false,
    confidence: confidenceOf(window),
    reasons: [],
  };
  if (out.confidence === 'none' || peak === null || headroom === null) {
    out.confidence = 'none';
    out.reasons.push(window.samples < MIN_SAMPLES ? tooLittle(window) : 'no working-set readings recorded for this cgroup');
    return out;
  }
  let max = Math.max(MEMORY_FLOOR, ceilMiB(peak + headroom));
  let high = input.memoryHigh ? Math.max(MEMORY_FLOOR, ceilMiB(peak + Math.max(peak * HIGH_HEADROOM.share, HIGH_HEADROOM.bytes))) : null;
  const limit = current.max;
  const nearLimit = limit !== null && usage.peak !== null && usage.peak >= 0.9 * limit;
  const pressured = (some.mean ?? 0) >= PRESSURE_CAUSE;
  if (limit !== null && (oomKills > 0 || (failcnt > 0 && nearLimit) || (pressured && nearLimit))) {
    out.limitIsCause = true;
    const what = [oomKills > 0 ? `${oomKills} OOM kill(s)` : null, failcnt > 0 ? `the limit hit ${failcnt} time(s)` : null, pressured ? `memory pressure ${pct(some.mean!)} of the time` : null]
      .filter(Boolean)
      .join(', ');
    out.reasons.push(`the memory limit ${mib(limit)} is the cause: ${what}, with usage peaking at ${mib(usage.peak!)}; the working set cannot grow past the limit, so its true peak is unknown: raise by at least half`);
    max = Math.max(max, ceilMiB(limit * 1.5));
    if (high !== null) high = Math.max(high, Math.min(max, ceilMiB(limit * 1.25)));
    if (oomKills > 0 && out.confidence !== 'low') out.confidence = 'low';
  } else if (limit === null) {
    out.reasons.push(`no memory limit is set; the working set peaked at ${mib(peak)}: a limit of ${mib(max)} keeps ${mib(max - peak)} of headroom`);
  } else if (limit > max) {
    out.reasons.push(`the limit ${mib(limit)} is ${(limit / peak).toFixed(1)}× the working-set peak ${mib(peak)}; ${mib(max)} still leaves ${mib(max - peak)} of headroom`);
  } else if (limit < max) {
    out.reasons.push(`the working set peaked at ${mib(peak)}, within ${mib(limit - peak)} of the limit ${mib(limit)}; raise it to keep ${mib(max - peak)} of headroom`);
  } else {
    out.reasons.push(`the limit ${mib(limit)} matches the working-set peak ${mib(peak)} plus headroom`);
  }
  if (high !== null) {
    high = Math.min(high, max);
    out.reasons.push(`memory.high ${mib(high)}: the kernel starts reclaiming above the working-set peak before memory.max is reached`);
    if (current.high !== null && pressured && usage.peak !== null && usage.peak >= 0.9 * current.high && !out.limitIsCause) {
      out.limitIsCause = true;
      out.reasons.push(`memory.high ${mib(current.high)} is the cause of memory pressure (${pct(some.mean!)} of the time)`);
    }
  } else {
    out.reasons.push('memory.high: none recommended (cgroup v1 has no memory.high)');
  }
  out.reasons.push(`${window.seconds} s of history (${window.samples} samples); working set p95 ${mib(out.evidence.workingSet.p95!)}, peak ${mib(peak)}`);
  out.recommended = { max, high };
  return out;
}

export function recommendCpu(input: RecommendInput): CpuRecommendation | null {
  if (!input.cpu) return null;
  const { series, now } = input;
  const window = windowOf(series);
  const usage = collect(series, 'cpu', now);
  const throttled = collect(series, 'cpuThrottled', now);
  const some = collect(series, 'cpuPressureSome', now);
  const { quotaUs, periodUs, weight } = input.cpu;
  const out: CpuRecommendation = {
    current: { quotaUs, periodUs, weight },
    recommended: null,
    evidence: {
      window,
      usageCores: spread(usage),
      throttledShare: throttled.mean,
      throttledSecondsShare: throttled.nonZeroShare,
      pressureSome: { avg: some.mean, max: some.peak },
    },
    limitIsCause: false,
    confidence: confidenceOf(window),
    reasons: [],
  };
  const p95 = out.evidence.usageCores.p95;
  const p99 = out.evidence.usageCores.p99;
  if (out.confidence === 'none' || p95 === null || p99 === null) {
    out.confidence = 'none';
    out.reasons.push(window.samples < MIN_SAMPLES ? tooLittle(window) : 'no cpu usage readings recorded for this cgroup');
    return out;
  }
  let target = Math.max(p95 * 1.3, p99 * 1.1, 0.01);
  const quota = quotaUs === null ? null : quotaUs / periodUs;
  const throttledShare = throttled.mean ?? 0;
  if (quota !== null && (throttledShare >= THROTTLED_CAUSE || p95 >= QUOTA_NEAR * quota)) {
    out.limitIsCause = true;
    target = Math.max(target, quota * 1.5);
    out.reasons.push(
      `the cpu quota ${cores(quota)} is the cause: throttled in ${pct(throttledShare)} of periods, usage p95 ${cores(p95)} is ${pct(p95 / quota)} of the quota; usage cannot show demand above the quota, so raise it by at least half`,
    );
  } else if (quota === null) {
    out.reasons.push(`no cpu quota is set; usage p95 ${cores(p95)}, p99 ${cores(p99)}: a quota of ${cores(target)} would rarely throttle`);
  } else if (quota > target && (some.mean ?? 0) >= 2 * PRESSURE_CAUSE) {
    // waiting for a cpu, not for the quota: usage shows what it got, not what it wants
    target = quota;
    out.reasons.push(`quota ${cores(quota)} unchanged: usage p95 ${cores(p95)} is under it, but the cgroup waited for a cpu ${pct(some.mean!)} of the time, so its usage understates its demand`);
  } else if (quota > target) {
    out.reasons.push(`the quota ${cores(quota)} is ${(quota / p95).toFixed(1)}× usage p95 ${cores(p95)}; throttled in ${pct(throttledShare)} of periods`);
  } else {
    out.reasons.push(`usage p95 ${cores(p95)} and p99 ${cores(p99)} leave little room under the quota ${cores(quota)}`);
  }
  let recommendedWeight = weight;
  const cpuPressure = some.mean ?? 0;
  if (!out.limitIsCause && cpuPressure >= 2 * PRESSURE_CAUSE) {
    recommendedWeight = Math.min(10_000, weight * 2);
    out.reasons.push(`cpu pressure ${pct(cpuPressure)} of the time without throttling: other cgroups compete for the cpus; a weight of ${recommendedWeight} gives it a larger share`);
  } else if (out.limitIsCause) {
    out.reasons.push(`weight ${weight} unchanged: the cpu pressure seen (${pct(cpuPressure)} of the time) comes from the quota, which a weight does not lift`);
  } else {
    out.reasons.push(`weight ${weight} unchanged: it only matters when cpus are contended (cpu pressure ${pct(cpuPressure)} of the time)`);
  }
  // the guard rail: never a quota under the observed p95
  // (less a hair, so 1.5 × 5000 µs is 7500 µs, not 7501 from the float's last bit)
  const recommendedQuotaUs = Math.max(1000, Math.ceil(Math.max(target, p95) * periodUs - 1e-6));
  out.reasons.push(`${window.seconds} s of history (${window.samples} samples); quota ${cores(recommendedQuotaUs / periodUs)} per ${periodUs} µs period`);
  out.recommended = { quotaUs: recommendedQuotaUs, periodUs, weight: recommendedWeight };
  return out;
}

export function recommend(input: RecommendInput): Recommendation {
  return { memory: recommendMemory(input), cpu: recommendCpu(input), applied: false };
}
