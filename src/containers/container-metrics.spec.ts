import { describe, expect, it } from 'vitest';
import type { Stats } from '../kernel/cgroups/driver.js';
import { CONTAINER_FAMILIES, type ContainerSeries } from './container-metrics.js';

const labels = { id: '/docker/abc', name: 'db', image: 'busybox' };
const stats: Stats = {
  cpu: { usageNs: 2_500_000_000, userNs: 1_500_000_000, systemNs: 1_000_000_000, nrPeriods: 40, nrThrottled: 7, throttledUs: 1_250_000 },
  memory: { usage: 10, peak: 20, limit: 30, failcnt: 1, oomEvents: 2, oomKills: 3, anon: 4, file: 5, kernel: 6, inactiveFile: 7, swap: 8 },
  pids: { current: 5, max: null },
  pressure: { cpu: { some: { avg10: 0, avg60: 0, avg300: 0, total: 2_000_000 }, full: { avg10: 0, avg60: 0, avg300: 0, total: 500_000 } }, memory: null, io: null },
};
function series(over: Partial<ContainerSeries> = {}): ContainerSeries {
  return {
    labels,
    usage: { stats, workingSet: 3, memoryPercent: 10, network: [{ interface: 'eth0', rxBytes: 100, rxPackets: 1, rxErrors: 0, rxDropped: 0, txBytes: 200, txPackets: 2, txErrors: 0, txDropped: 0 }] },
    limits: { memory: { max: null, high: null, swapMax: null }, cpu: { quotaUs: null, periodUs: 100_000, weight: 100, shares: 1024 }, pids: { max: null } },
    processes: 2,
    startTimeSeconds: 1_700_000_000,
    ...over,
  };
}
const snap = { containers: [], at: 1_800_000_000, machineCpuCores: 2, machineMemoryBytes: 1 << 30 };
const value = (name: string, c: ContainerSeries) => {
  const family = CONTAINER_FAMILIES.find((f) => f.name === name);
  if (!family) throw new Error(`no family ${name}`);
  return family.value(c, snap);
};

describe("cAdvisor's families from nsgate's readings", () => {
  it('converts to cAdvisor units: ns and µs to seconds, PSI µs totals to seconds', () => {
    expect(value('container_cpu_usage_seconds_total', series())).toEqual([[{ cpu: 'total' }, 2.5]]);
    expect(value('container_cpu_user_seconds_total', series())).toBe(1.5);
    expect(value('container_pressure_cpu_waiting_seconds_total', series())).toBe(2);
    expect(value('container_pressure_cpu_stalled_seconds_total', series())).toBe(0.5);
    expect(value('container_pressure_memory_waiting_seconds_total', series())).toBeNull();
  });

  it('CFS series and the quota only while a quota is set, as cAdvisor', () => {
    expect(value('container_cpu_cfs_periods_total', series())).toBeNull();
    expect(value('container_spec_cpu_quota', series())).toBeNull();
    const limited = series({ limits: { cpu: { quotaUs: 50_000, periodUs: 100_000, weight: 100, shares: 1024 } } });
    expect(value('container_cpu_cfs_periods_total', limited)).toBe(40);
    expect(value('container_cpu_cfs_throttled_periods_total', limited)).toBe(7);
    expect(value('container_cpu_cfs_throttled_seconds_total', limited)).toBe(1.25);
    expect(value('container_spec_cpu_quota', limited)).toBe(50_000);
  });

  it('unlimited memory and tasks read 0, as cAdvisor writes them; absent controllers give no series', () => {
    expect(value('container_spec_memory_limit_bytes', series())).toBe(0);
    expect(value('container_threads_max', series())).toBe(0);
    expect(value('container_spec_memory_limit_bytes', series({ limits: {} }))).toBeNull();
    expect(value('container_spec_memory_limit_bytes', series({ limits: { memory: { max: 64 << 20, high: null, swapMax: null } } }))).toBe(64 << 20);
  });

  it('memory: working set, rss (anon), cache (file), swap, OOM kills', () => {
    expect(value('container_memory_working_set_bytes', series())).toBe(3);
    expect(value('container_memory_rss', series())).toBe(4);
    expect(value('container_memory_cache', series())).toBe(5);
    expect(value('container_memory_swap', series())).toBe(8);
    expect(value('container_oom_events_total', series())).toBe(3);
  });

  it('network per interface; none without a namespace of its own', () => {
    expect(value('container_network_transmit_bytes_total', series())).toEqual([[{ interface: 'eth0' }, 200]]);
    expect(value('container_network_receive_packets_total', series())).toEqual([[{ interface: 'eth0' }, 1]]);
    expect(value('container_network_receive_bytes_total', series({ usage: { ...series().usage, network: null } }))).toBeNull();
  });

  it('every family is named as Prometheus expects: counters end in _total, nothing else does', () => {
    for (const f of CONTAINER_FAMILIES) expect([f.name, f.type === 'counter']).toEqual([f.name, f.name.endsWith('_total')]);
  });
});
