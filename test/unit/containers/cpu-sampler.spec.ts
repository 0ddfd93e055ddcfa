import { afterEach, describe, expect, it, vi } from 'vitest';
import { CpuSampler, cpuPercent, parseProcStatCpu, readHostCpu, usageReaderFrom, type HostCpu } from '../../../src/kernel/containers/cpu-sampler.js';
import { NsgateError } from '../../../src/kernel/errors.js';

/** A fake host: a clock (ms) and cpu counters the test moves by hand. */
function fakeHost(onlineCpus = 2) {
  const state = { now: 0, systemNs: 1_000e9, usage: new Map<string, number | null>() };
  return {
    state,
    /** Lets `ms` pass with the given cgroups busy for the given ns each. */
    advance(ms: number, busyNs: Record<string, number> = {}) {
      state.now += ms;
      state.systemNs += ms * 1e6 * onlineCpus; // every cpu's time moves with the wall clock
      for (const [path, ns] of Object.entries(busyNs)) state.usage.set(path, (state.usage.get(path) ?? 0) + ns);
    },
    sampler(extra: { intervalMs?: number; idleMs?: number; minWindowMs?: number } = {}) {
      return new CpuSampler({
        readUsageNs: (p) => (state.usage.has(p) ? state.usage.get(p)! : null),
        readHost: (): HostCpu => ({ systemNs: state.systemNs, onlineCpus }),
        now: () => state.now,
        ...extra,
      });
    },
  };
}

describe('cpuPercent (docker stats arithmetic)', () => {
  it('is Δusage / Δhost × online cpus × 100', () => {
    // half a cpu-second used while the 2-cpu host spent 2 cpu-seconds (one wall second)
    expect(cpuPercent({ usageNs: 1e9, systemNs: 100e9 }, { usageNs: 1.5e9, systemNs: 102e9, onlineCpus: 2 })).toBe(50);
    // both cpus busy: 200 %
    expect(cpuPercent({ usageNs: 0, systemNs: 0 }, { usageNs: 2e9, systemNs: 2e9, onlineCpus: 2 })).toBe(200);
    expect(cpuPercent({ usageNs: 5, systemNs: 0 }, { usageNs: 5, systemNs: 2e9, onlineCpus: 2 })).toBe(0);
  });

  it('is null when the counter went backwards or no host time passed', () => {
    expect(cpuPercent({ usageNs: 10, systemNs: 0 }, { usageNs: 5, systemNs: 1e9, onlineCpus: 1 })).toBeNull();
    expect(cpuPercent({ usageNs: 0, systemNs: 7 }, { usageNs: 5, systemNs: 7, onlineCpus: 1 })).toBeNull();
  });
});

describe('parseProcStatCpu', () => {
  const stat = [
    'cpu  192284 0 55666 536199 714 0 613 1894 0 0',
    'cpu0 94838 0 28632 268975 169 0 205 914 0 0',
    'cpu1 97445 0 27033 267224 545 0 408 980 0 0',
    'intr 1 2 3',
    'ctxt 123',
  ].join('\n');

  it('sums user..softirq (not steal) into ns, and counts the cpuN lines', () => {
    const ticks = 192284 + 0 + 55666 + 536199 + 714 + 0 + 613;
    expect(parseProcStatCpu(stat, 100)).toEqual({ systemNs: ticks * 1e7, onlineCpus: 2 });
  });

  it('refuses a file without a cpu line', () => {
    expect(() => parseProcStatCpu('intr 1\n', 100)).toThrow(/no cpu line/);
  });

  it('reads this host', () => {
    const host = readHostCpu();
    expect(host.onlineCpus).toBeGreaterThan(0);
    expect(host.systemNs).toBeGreaterThan(0);
  });
});

describe('CpuSampler', () => {
  afterEach(() => vi.useRealTimers());

  it('a tracked path answers its first read at once, from the background sample', () => {
    const h = fakeHost();
    h.state.usage.set('/docker/a', 0);
    const s = h.sampler();
    s.track('/docker/a'); // first sample now
    h.advance(800, { '/docker/a': 0.4e9 }); // half a cpu for 0.8 s
    const r = s.read('/docker/a')!;
    expect(r.percent).toBeCloseTo(50, 10);
    expect(r.windowMs).toBe(800);
    expect(r.usageNs).toBe(0.4e9);
    expect(r.onlineCpus).toBe(2);
  });

  it('a read right after a background round compares with the round before (never a window of a few ms)', () => {
    const h = fakeHost();
    h.state.usage.set('/c', 0);
    const s = h.sampler();
    s.track('/c');
    h.advance(1000, { '/c': 1e9 }); // one full cpu
    s.sampleAll();
    h.advance(10, { '/c': 0 }); // idle for 10 ms only
    const r = s.read('/c')!;
    expect(r.windowMs).toBe(1010);
    expect(r.percent).toBeCloseTo((1e9 / (1010 * 1e6 * 2)) * 2 * 100, 10);
    // and at least minWindowMs after the last round, that round is the baseline
    h.advance(600, { '/c': 0.3e9 });
    const later = s.read('/c')!;
    expect(later.windowMs).toBe(610);
    expect(later.percent).toBeCloseTo((0.3e9 / (610 * 1e6 * 2)) * 2 * 100, 10);
  });

  it('reads do not move the baseline while the background runs: repeated reads share it', () => {
    const h = fakeHost();
    h.state.usage.set('/c', 0);
    const s = h.sampler();
    s.track('/c');
    h.advance(600, { '/c': 0.6e9 });
    const first = s.read('/c')!;
    h.advance(100, { '/c': 0.1e9 });
    const second = s.read('/c')!;
    expect(first.windowMs).toBe(600);
    expect(second.windowMs).toBe(700);
    expect(second.percent).toBeCloseTo(100, 10);
  });

  it('a sample older than two intervals still gives a percent (over its window), then is refreshed', () => {
    const h = fakeHost();
    h.state.usage.set('/c', 0);
    const s = h.sampler({ intervalMs: 1000 });
    s.track('/c');
    h.advance(5000, { '/c': 1e9 }); // background stalled: no rounds for 5 s
    const stale = s.read('/c')!;
    expect(stale.windowMs).toBe(5000);
    expect(stale.percent).toBeCloseTo(20, 10);
    h.advance(1000, { '/c': 1e9 });
    const fresh = s.read('/c')!;
    expect(fresh.windowMs).toBe(1000);
    expect(fresh.percent).toBeCloseTo(100, 10);
  });

  it('an untracked path has no baseline on its first read, then is sampled in the background', () => {
    const h = fakeHost();
    h.state.usage.set('/c', 7);
    const s = h.sampler();
    const first = s.read('/c')!;
    expect(first).toMatchObject({ usageNs: 7, percent: null, windowMs: null });
    expect(s.tracked()).toEqual(['/c']);
    h.advance(1000, { '/c': 0.5e9 });
    s.sampleAll();
    h.advance(1000, { '/c': 0.5e9 }); // half a cpu
    expect(s.read('/c')!.percent).toBeCloseTo(50, 10);
  });

  it('a caller may compare with its own previous read instead (`since`)', () => {
    const h = fakeHost(4);
    h.state.usage.set('/c', 0);
    const s = h.sampler();
    const mine = s.read('/c')!.sample;
    h.advance(250, { '/c': 0.5e9 }); // two cpus busy for 250 ms
    const r = s.read('/c', { since: mine })!;
    expect(r.windowMs).toBe(250);
    expect(r.percent).toBeCloseTo(200, 10);
  });

  it('a counter that went backwards (a new cgroup at the path) gives null once, then counts from there', () => {
    const h = fakeHost();
    h.state.usage.set('/c', 5e9);
    const s = h.sampler();
    s.track('/c');
    h.advance(1000);
    h.state.usage.set('/c', 0.1e9);
    expect(s.read('/c')!.percent).toBeNull();
    h.advance(1000, { '/c': 1e9 }); // one cpu
    expect(s.read('/c')!.percent).toBeCloseTo(100, 10);
  });

  it('a gone cgroup reads null and loses its samples', () => {
    const h = fakeHost();
    h.state.usage.set('/c', 0);
    const s = h.sampler();
    s.track('/c');
    h.state.usage.set('/c', null);
    expect(s.read('/c')).toBeNull();
    h.state.usage.set('/c', 0);
    expect(s.read('/c')!.percent).toBeNull();
  });

  it('paths only read (not tracked) are dropped after idleMs; tracked ones stay until untracked', () => {
    const h = fakeHost();
    h.state.usage.set('/read', 0);
    h.state.usage.set('/tracked', 0);
    const s = h.sampler({ idleMs: 5000 });
    s.read('/read');
    s.track('/tracked');
    h.advance(6000);
    s.sampleAll();
    expect(s.tracked()).toEqual(['/tracked']);
    s.untrack('/tracked');
    expect(s.tracked()).toEqual([]);
  });

  it('setTracked replaces the tracked set and keeps merely read paths', () => {
    const h = fakeHost();
    for (const p of ['/a', '/b', '/c', '/r']) h.state.usage.set(p, 0);
    const s = h.sampler();
    s.read('/r');
    s.setTracked(['/a', '/b']);
    s.setTracked(['/b', '/c']);
    expect(s.tracked().sort()).toEqual(['/b', '/c', '/r']);
  });

  it('a background read that throws is reported and does not stop the round', () => {
    const h = fakeHost();
    const errors: string[] = [];
    let fail = false;
    const s = new CpuSampler({
      readUsageNs: (p) => {
        if (p === '/bad' && fail) throw new Error('EACCES');
        return 0;
      },
      readHost: () => ({ systemNs: h.state.systemNs, onlineCpus: 2 }),
      now: () => h.state.now,
      onError: (p) => errors.push(p),
    });
    s.track('/bad');
    s.track('/good');
    fail = true;
    h.advance(1000);
    s.sampleAll();
    expect(errors).toEqual(['/bad']);
    expect(s.read('/good')!.windowMs).toBe(1000);
  });

  it('start() samples every interval on a timer that does not hold the process; stop() ends it', () => {
    vi.useFakeTimers();
    const h = fakeHost();
    h.state.usage.set('/c', 0);
    const s = h.sampler({ intervalMs: 1000 });
    const round = vi.spyOn(s, 'sampleAll');
    s.start();
    s.start(); // idempotent
    expect(s.running).toBe(true);
    vi.advanceTimersByTime(3500);
    expect(round).toHaveBeenCalledTimes(3);
    s.stop();
    vi.advanceTimersByTime(3000);
    expect(round).toHaveBeenCalledTimes(3);
    expect(s.running).toBe(false);
  });
});

describe('usageReaderFrom (the seam to the cgroup layer)', () => {
  it('reads cpu.usageNs of readStats, a missing cgroup or cpu group as null, and rethrows other errors', () => {
    const reader = usageReaderFrom({
      readStats: (path) => {
        if (path === '/gone') throw new NsgateError('CGROUP_NOT_FOUND', 'no');
        if (path === '/denied') throw new NsgateError('KERNEL_PERMISSION_DENIED', 'no');
        if (path === '/nocpu') return {};
        return { cpu: { usageNs: 42 } };
      },
    });
    expect(reader('/docker/x')).toBe(42);
    expect(reader('/gone')).toBeNull();
    expect(reader('/nocpu')).toBeNull();
    expect(() => reader('/denied')).toThrow(/no/);
  });
});
