import { describe, expect, it } from 'vitest';
import type { Limits, Stats } from '../../../src/kernel/cgroups/driver.js';
import { preflightLimits } from '../../../src/kernel/cgroups/preflight.js';

const MiB = 1024 * 1024;
const memory = (usage: number, inactiveFile: number | null): Stats => ({
  memory: { usage, peak: null, limit: null, failcnt: null, oomEvents: null, oomKills: null, anon: null, file: null, kernel: null, inactiveFile, swap: null },
});
const parent: Limits = {
  memory: { max: 64 * MiB, high: null, swapMax: null },
  cpu: { quotaUs: 50_000, periodUs: 100_000, weight: 100, shares: 1024 },
  pids: { max: 100 },
  cpuset: { cpus: '0', mems: '0', effectiveCpus: '0', effectiveMems: '0' },
};
const codes = (findings: { code: string; field: string; severity: string }[]) => findings.map((f) => `${f.code}:${f.field}:${f.severity}`);

describe('preflightLimits', () => {
  it('says below usage (reclaimable: a warning) apart from below what cannot be reclaimed (an error)', () => {
    // 25 of 30 MiB inactive file pages: 5 MiB cannot be reclaimed
    const cache = preflightLimits({ path: '/nsgate/a', change: { memory: { max: 20 * MiB } }, stats: memory(30 * MiB, 25 * MiB), parentLimits: null });
    expect(codes(cache)).toEqual(['BELOW_USAGE:memory.max:warning']);
    // 8 of 30 MiB: 22 MiB cannot
    const anon = preflightLimits({ path: '/nsgate/a', change: { memory: { max: 20 * MiB } }, stats: memory(30 * MiB, 8 * MiB), parentLimits: null });
    expect(codes(anon)).toEqual(['BELOW_UNRECLAIMABLE:memory.max:error']);
    expect(anon[0]!.details).toMatchObject({ requested: 20 * MiB, usage: 30 * MiB, unreclaimable: 22 * MiB, inactiveFile: 8 * MiB });
    // the kernel did not say: all of usage counts
    expect(codes(preflightLimits({ path: '/nsgate/a', change: { memory: { max: 20 * MiB } }, stats: memory(30 * MiB, null), parentLimits: null }))).toEqual(['BELOW_UNRECLAIMABLE:memory.max:error']);
    expect(preflightLimits({ path: '/nsgate/a', change: { memory: { max: 40 * MiB } }, stats: memory(30 * MiB, 8 * MiB), parentLimits: null })).toEqual([]);
  });

  it("finds a parent's lower limits and a cpuset outside the parent's", () => {
    const found = preflightLimits({
      path: '/nsgate/a/b',
      change: { memory: { max: null }, pids: { max: 200 }, cpu: { quotaUs: 100_000 }, cpuset: { cpus: '0-1', mems: '0' } },
      stats: memory(1 * MiB, 0),
      parentLimits: parent,
    });
    expect(codes(found)).toEqual(['PARENT_LIMIT_LOWER:memory.max:warning', 'PARENT_LIMIT_LOWER:pids.max:warning', 'PARENT_LIMIT_LOWER:cpu.max:warning', 'CPUSET_OUTSIDE_PARENT:cpuset.cpus:error']);
    expect(found[0]!.details).toMatchObject({ parent: '/nsgate/a', parentValue: 64 * MiB });
  });

  it('finds nothing for a change within every bound', () => {
    const change = { memory: { max: 32 * MiB }, pids: { max: 50 }, cpu: { quotaUs: 25_000 }, cpuset: { cpus: '0' } };
    expect(preflightLimits({ path: '/nsgate/a/b', change, stats: memory(1 * MiB, 0), parentLimits: parent })).toEqual([]);
  });
});
