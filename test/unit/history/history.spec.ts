// The history rings, the sampler's arithmetic and the recommendation math, on series recorded
// from synthetic cgroup readings (the same Stats shape the drivers return): no kernel needed.
import { describe, expect, it } from 'vitest';
import type { Stats } from '../../../src/kernel/cgroups/driver.js';
import { MIN_SAMPLES, MiB, recommend, percentile } from '../../../src/kernel/history/recommend.js';
import { HistorySampler } from '../../../src/kernel/history/sampler.js';
import { CHUNK_BYTES, COARSE_SLOTS, FINE_SLOTS, HistorySeries, METRIC_COUNT, METRIC_INDEX, SERIES_BASE_BYTES, SERIES_BYTES } from '../../../src/kernel/history/series.js';
import { MAX_POINTS, planQuery } from '../../../src/kernel/history/window.js';

const T0 = Date.UTC(2026, 11, 2, 12, 0, 0);

interface Reading {
  usageNs: number;
  periods?: number;
  throttled?: number;
  memory?: number;
  inactiveFile?: number;
  failcnt?: number;
  oomKills?: number;
  memSomeUs?: number;
}

function stats(r: Reading): Stats {
  const line = (total: number) => ({ avg10: 0, avg60: 0, avg300: 0, total });
  return {
    cpu: { usageNs: r.usageNs, userNs: null, systemNs: null, nrPeriods: r.periods ?? 0, nrThrottled: r.throttled ?? 0, throttledUs: null },
    memory: {
      usage: r.memory ?? 0,
      peak: null,
      limit: null,
      failcnt: r.failcnt ?? 0,
      oomEvents: null,
      oomKills: r.oomKills ?? 0,
      anon: null,
      file: null,
      swap: null,
      kernel: null,
      inactiveFile: r.inactiveFile ?? 0,
    },
    pids: { current: 3, max: null },
    pressure: { cpu: { some: line(0), full: line(0) }, memory: { some: line(r.memSomeUs ?? 0), full: line(0) }, io: null },
  };
}

/** Records `seconds` one-second readings from `at(i)` into a fresh sampler; returns the series. */
function recorded(seconds: number, at: (i: number) => Reading, start = T0): HistorySeries {
  const sampler = new HistorySampler({ readStats: () => ({}), now: () => start });
  for (let i = 0; i <= seconds; i++) sampler.recordStats('/x', stats(at(i)), start + i * 1000);
  return sampler.series('/x')!;
}

describe('history series', () => {
  it('states its size: the fine ring up front, the coarse ring an hour at a time, at most SERIES_BYTES', () => {
    expect(SERIES_BYTES).toBe(FINE_SLOTS * METRIC_COUNT * 4 + FINE_SLOTS * 4 + COARSE_SLOTS * METRIC_COUNT * 3 * 4 + COARSE_SLOTS * 4 + METRIC_COUNT * 5 * 8);
    expect(SERIES_BYTES).toBeLessThan(300 * 1024);
    const s = new HistorySeries();
    expect(s.bytes()).toBe(SERIES_BASE_BYTES);
    const v = new Float64Array(METRIC_COUNT).fill(1);
    // 3 hours and a minute of one sample a minute: four hours of the coarse ring made
    for (let i = 0; i <= 181; i++) s.record(T0 + i * 60_000, v);
    expect(s.bytes()).toBe(SERIES_BASE_BYTES + 4 * CHUNK_BYTES);
    for (let i = 182; i <= 182 + 26 * 60; i++) s.record(T0 + i * 60_000, v);
    expect(s.bytes()).toBe(SERIES_BYTES);
    // 24 hours of finished minutes are held besides the one under way; older ones were overwritten
    const last = Math.floor((T0 + (182 + 26 * 60) * 60_000) / 60_000);
    expect(s.minuteValue(last - COARSE_SLOTS, 0, 1)).toBe(1);
    expect(s.minuteValue(last - COARSE_SLOTS - 1, 0, 1)).toBeNaN();
  });

  it('answers per second for the last ten minutes, and a second overwritten by a later lap reads as missing', () => {
    const s = new HistorySeries();
    const v = new Float64Array(METRIC_COUNT).fill(Number.NaN);
    for (let i = 0; i < FINE_SLOTS + 5; i++) {
      v[METRIC_INDEX.pids] = i;
      s.record(T0 + i * 1000, v);
    }
    const last = T0 + (FINE_SLOTS + 4) * 1000;
    const points = s.query(last - 2000, last, 1000, 'fine');
    expect(points.map((p) => p.values.pids.avg)).toEqual([FINE_SLOTS + 2, FINE_SLOTS + 3, FINE_SLOTS + 4]);
    // second 3 was overwritten by second FINE_SLOTS + 3
    expect(s.fineValue(Math.floor(T0 / 1000) + 3, METRIC_INDEX.pids)).toBeNaN();
    // a 5-second step aggregates min/avg/max
    const five = s.query(last - 4000, last, 5000, 'fine');
    expect(five[0]!.values.pids).toEqual({ min: FINE_SLOTS, avg: FINE_SLOTS + 2, max: FINE_SLOTS + 4 });
  });

  it('keeps per-minute min/avg/max for older history', () => {
    const s = new HistorySeries();
    const v = new Float64Array(METRIC_COUNT).fill(Number.NaN);
    for (let i = 0; i < 180; i++) {
      v[METRIC_INDEX.memoryUsage] = (i % 60) * MiB;
      s.record(T0 + i * 1000, v);
    }
    const points = s.query(T0, T0 + 179_000, 60_000, 'coarse');
    expect(points).toHaveLength(3);
    for (const p of points) expect(p.values.memoryUsage).toEqual({ min: 0, avg: 29.5 * MiB, max: 59 * MiB });
    expect(points[0]!.values.cpu).toEqual({ min: null, avg: null, max: null });
  });
});

describe('the sampler', () => {
  it('turns counters into rates per interval, and a counter going back (a new cgroup at the path) into a gap', () => {
    const s = recorded(4, (i) => ({ usageNs: i === 3 ? 1e6 : i * 5e8, periods: i * 10, throttled: i * 4, failcnt: i, memory: 100 * MiB, inactiveFile: 30 * MiB }));
    const at = (i: number, m: keyof typeof METRIC_INDEX) => s.fineValue(Math.floor((T0 + i * 1000) / 1000), METRIC_INDEX[m]);
    expect(at(0, 'cpu')).toBeNaN(); // no baseline yet
    expect(at(1, 'cpu')).toBeCloseTo(0.5, 5);
    expect(at(2, 'cpuThrottled')).toBeCloseTo(0.4, 5);
    expect(at(3, 'cpu')).toBeNaN(); // went backwards
    expect(at(4, 'cpu')).toBeGreaterThan(1); // from the new baseline: (2e9 - 1e6) ns in 1 s
    expect(at(2, 'workingSet')).toBe(70 * MiB);
    expect(s.totals[METRIC_INDEX.memoryFailcnt]).toBe(4);
  });

  it('bounds what it tracks', () => {
    const sampler = new HistorySampler({ readStats: () => ({}), maxTracked: 2 });
    sampler.setTracked(['/a', '/b', '/c']);
    expect(sampler.tracked()).toEqual(['/a', '/b']);
    expect(sampler.status()).toMatchObject({ tracked: 2, refused: 1, bytesPerCgroup: SERIES_BYTES });
  });
});

describe('recommendations', () => {
  it('refuses to guess on too little history', () => {
    const s = recorded(MIN_SAMPLES - 5, (i) => ({ usageNs: i * 1e8, memory: 50 * MiB }));
    const r = recommend({ series: s, now: s.lastAt, memory: { max: 512 * MiB, high: null, swapMax: null }, cpu: { quotaUs: 50_000, periodUs: 100_000, weight: 100, shares: 1024 }, memoryHigh: false });
    expect(r.memory).toMatchObject({ confidence: 'none', recommended: null });
    expect(r.cpu).toMatchObject({ confidence: 'none', recommended: null });
    expect(r.cpu!.reasons[0]).toMatch(/at least 30/);
  });

  it('a cpu-bound workload throttled under a tight quota gets a higher quota, with throttling as the reason', () => {
    // 0.2 cores of quota, used to the full, throttled in 90 % of periods
    const s = recorded(120, (i) => ({ usageNs: i * 2e8 * (0.98 + 0.02 * Math.sin(i)), periods: i * 10, throttled: i * 9 }));
    const r = recommend({ series: s, now: s.lastAt, cpu: { quotaUs: 20_000, periodUs: 100_000, weight: 100, shares: 1024 }, memoryHigh: false });
    const cpu = r.cpu!;
    expect(cpu.limitIsCause).toBe(true);
    expect(cpu.recommended!.quotaUs).toBeGreaterThanOrEqual(30_000);
    expect(cpu.evidence.throttledShare).toBeCloseTo(0.9, 2);
    expect(cpu.reasons.join(' ')).toMatch(/throttled in 90\.0 % of periods/);
    expect(cpu.confidence).toBe('low');
    expect(r.applied).toBe(false);
  });

  it('never recommends a quota under observed p95 usage', () => {
    // bursty: mostly 0.1 cores, 10 % of seconds at 1.5 cores; no quota
    const usage: number[] = [0];
    for (let i = 1; i <= 300; i++) usage.push(usage[i - 1]! + (i % 10 === 0 ? 1.5e9 : 1e8));
    const s = recorded(300, (i) => ({ usageNs: usage[i]! }));
    const r = recommend({ series: s, now: s.lastAt, cpu: { quotaUs: null, periodUs: 100_000, weight: 100, shares: 1024 }, memoryHigh: false });
    const p95 = r.cpu!.evidence.usageCores.p95!;
    expect(p95).toBeCloseTo(1.5, 3);
    expect(r.cpu!.recommended!.quotaUs / 100_000).toBeGreaterThanOrEqual(p95);
    expect(r.cpu!.limitIsCause).toBe(false);
  });

  it('a memory limit far above the working set gets a lower one, never below the peak plus headroom', () => {
    const s = recorded(700, (i) => ({ usageNs: i * 1e7, memory: (40 + (i % 50 === 0 ? 20 : 0)) * MiB, inactiveFile: 10 * MiB }));
    const r = recommend({ series: s, now: s.lastAt, memory: { max: 1024 * MiB, high: null, swapMax: null }, memoryHigh: true });
    const m = r.memory!;
    expect(m.evidence.workingSetPeak).toBe(50 * MiB);
    expect(m.recommended!.max).toBeLessThan(1024 * MiB);
    expect(m.recommended!.max).toBeGreaterThanOrEqual(50 * MiB + 16 * MiB);
    expect(m.recommended!.high).toBeGreaterThanOrEqual(50 * MiB + 8 * MiB);
    expect(m.recommended!.high).toBeLessThanOrEqual(m.recommended!.max);
    expect(m.limitIsCause).toBe(false);
    expect(m.confidence).toBe('medium');
    expect(m.reasons[0]).toMatch(/20\.5× the working-set peak/);
  });

  it('flags a memory limit that causes OOM kills and raises it', () => {
    const s = recorded(60, (i) => ({ usageNs: i * 1e7, memory: 63 * MiB, failcnt: i * 3, oomKills: i > 30 ? 1 : 0 }));
    const r = recommend({ series: s, now: s.lastAt, memory: { max: 64 * MiB, high: null, swapMax: null }, memoryHigh: false });
    expect(r.memory!.limitIsCause).toBe(true);
    expect(r.memory!.evidence.oomKills).toBe(1);
    expect(r.memory!.recommended!.max).toBeGreaterThanOrEqual(96 * MiB);
    expect(r.memory!.recommended!.high).toBeNull();
    expect(r.memory!.reasons.join(' ')).toMatch(/1 OOM kill/);
  });

  it('takes nearest-rank percentiles', () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
    expect(percentile([], 50)).toBeNull();
  });
});

describe('history queries', () => {
  const now = T0;
  it('serves seconds within ten minutes and minutes beyond', () => {
    expect(planQuery({}, now)).toMatchObject({ resolution: 'fine', stepMs: 1000, fromMs: now - 599_000 });
    expect(planQuery({ from: '10m' }, now)).toMatchObject({ resolution: 'fine', stepMs: 1000 });
    expect(planQuery({ from: '2h' }, now)).toMatchObject({ resolution: 'coarse', stepMs: 60_000 });
    expect(planQuery({ from: '5m', step: '90s' }, now)).toMatchObject({ resolution: 'coarse', stepMs: 120_000 });
    expect(planQuery({ from: new Date(now - 60_000).toISOString() }, now)).toMatchObject({ resolution: 'fine', fromMs: now - 60_000 });
    // more than 24 hours back is cut to 24 hours
    expect(planQuery({ from: '48h' }, now).fromMs).toBe(now - 24 * 3600_000);
  });

  it('refuses bad input, and bounds every answer', () => {
    expect(() => planQuery({ from: 'yesterday' }, now)).toThrow(/ISO 8601/);
    expect(() => planQuery({ step: '0s' }, now)).toThrow(/1 s to 24 h/);
    // a step longer than the rings is refused: its stepSeconds would not fit GraphQL's Int
    expect(() => planQuery({ step: '999999h' }, now)).toThrow(/1 s to 24 h/);
    expect(planQuery({ from: '24h', step: '24h' }, now)).toMatchObject({ resolution: 'coarse', stepMs: 24 * 3600_000 });
    expect(() => planQuery({ from: new Date(now + 60_000).toISOString() }, now)).toThrow(/future/);
    // the largest answers: 48 hours asked at 1 s is 24 hours at 1 min
    const widest = planQuery({ from: '48h', step: '1s' }, now);
    expect(widest).toMatchObject({ resolution: 'coarse', stepMs: 60_000 });
    const s = new HistorySeries();
    expect(s.query(widest.fromMs, widest.toMs, widest.stepMs, widest.resolution).length).toBeLessThanOrEqual(MAX_POINTS);
    expect(s.query(now - 599_000, now, 1000, 'fine')).toHaveLength(600);
  });
});

describe('the sampler over time', () => {
  it('samples in slices on its timer, keeps a stopped cgroup readable for a while, and bounds what it retires', async () => {
    let usage = 0;
    const reads: string[] = [];
    const sampler = new HistorySampler({
      readStats: (p) => {
        reads.push(p);
        usage += 1e8;
        return stats({ usageNs: usage });
      },
      maxTracked: 50,
    });
    const paths = Array.from({ length: 50 }, (_, i) => `/c${i}`);
    sampler.setTracked(paths);
    await sampler.sampleRound();
    expect(reads).toEqual(paths);
    expect(sampler.status().rounds).toBe(1);
    // dropped from the tracked set: retired, still readable
    sampler.setTracked(paths.slice(1));
    expect(sampler.isTracked('/c0')).toBe(false);
    expect(sampler.series('/c0')!.samples).toBe(1);
    // at most maxTracked retired
    for (let round = 0; round < 3; round++) {
      const fresh = Array.from({ length: 50 }, (_, i) => `/r${round}-${i}`);
      sampler.setTracked(fresh);
      await sampler.sampleRound();
    }
    expect(sampler.status().tracked).toBe(50);
    expect(sampler.status().bytes).toBeLessThanOrEqual(100 * SERIES_BYTES);
    expect(sampler.series('/c0')).toBeUndefined();
  });
});
