import { describe, expect, it } from 'vitest';
import {
  cpuSharesToWeight,
  cpuWeightToShares,
  formatCpuMax,
  memswFromSwap,
  parseBytes,
  parseCount,
  parseCpuMax,
  parseKernelNumber,
  swapFromMemsw,
} from '../../../src/kernel/cgroups/index.js';
import { codeOf } from './fixture.js';

describe('parseBytes', () => {
  it.each([
    [8000000, 8000000],
    ['8000000', 8000000],
    ['64M', 64 * 1024 ** 2],
    ['64m', 64 * 1024 ** 2],
    ['1G', 1024 ** 3],
    ['1gb', 1024 ** 3],
    ['2GiB', 2 * 1024 ** 3],
    ['512k', 512 * 1024],
    ['1.5G', 1.5 * 1024 ** 3],
    ['100b', 100],
    [' 7 M ', 7 * 1024 ** 2],
    ['1T', 1024 ** 4],
  ])('%s is %d bytes', (input, bytes) => {
    expect(parseBytes(input)).toBe(bytes);
  });

  it.each(['max', null, -1, '-1'])('%s is unlimited (null)', (input) => {
    expect(parseBytes(input)).toBeNull();
  });

  it.each(['', 'lots', '64X', '1e9', '-5', '12iB', '99999999999999999999P', 1.5, -2, {}, true])('refuses %s', async (input) => {
    expect(await codeOf(() => parseBytes(input, 'memory.max'))).toBe('LIMIT_INVALID');
  });
});

describe('parseCount and parseCpuMax', () => {
  it('counts', () => {
    expect(parseCount(64)).toBe(64);
    expect(parseCount('64')).toBe(64);
    expect(parseCount('max')).toBeNull();
  });

  it('cpu.max in its kernel spellings', () => {
    expect(parseCpuMax('50000 100000')).toEqual({ quotaUs: 50000, periodUs: 100000 });
    expect(parseCpuMax('max 100000\n')).toEqual({ quotaUs: null, periodUs: 100000 });
    expect(parseCpuMax('max')).toEqual({ quotaUs: null });
    expect(parseCpuMax('25000')).toEqual({ quotaUs: 25000 });
    expect(formatCpuMax(null, 100000)).toBe('max 100000');
    expect(formatCpuMax(50000, 20000)).toBe('50000 20000');
  });

  it('refuses a malformed cpu.max', async () => {
    expect(await codeOf(() => parseCpuMax('fifty'))).toBe('LIMIT_INVALID');
    expect(await codeOf(() => parseCpuMax('1 2 3'))).toBe('LIMIT_INVALID');
  });
});

describe('parseKernelNumber', () => {
  it('reads v1 unlimited (9223372036854771712) and -1 and max as null, numbers as numbers', () => {
    expect(parseKernelNumber('9223372036854771712\n', { unlimitedAbove: true })).toBeNull();
    expect(parseKernelNumber('-1')).toBeNull();
    expect(parseKernelNumber('max\n')).toBeNull();
    expect(parseKernelNumber('7999488\n')).toBe(7999488);
  });
});

describe('cpu.shares <-> cpu.weight (runc/crun conversion)', () => {
  it('matches the reference points of opencontainers/cgroups', () => {
    expect(cpuSharesToWeight(1)).toBe(1); // below the minimum
    expect(cpuSharesToWeight(2)).toBe(1);
    expect(cpuSharesToWeight(3)).toBe(2);
    expect(cpuSharesToWeight(1024)).toBe(100); // the defaults line up
    expect(cpuSharesToWeight(262143)).toBe(10000);
    expect(cpuSharesToWeight(262144)).toBe(10000);
    expect(cpuSharesToWeight(262145)).toBe(10000);
  });

  it('is monotonic over the whole shares range', () => {
    let last = 0;
    for (let s = 2; s <= 262144; s += 7) {
      const w = cpuSharesToWeight(s);
      expect(w).toBeGreaterThanOrEqual(last);
      last = w;
    }
  });

  it('weight -> shares -> weight gives every weight back, and 100 is 1024', () => {
    expect(cpuWeightToShares(100)).toBe(1024);
    expect(cpuWeightToShares(1)).toBe(2);
    expect(cpuWeightToShares(10000)).toBe(262144);
    for (let w = 1; w <= 10000; w++) expect(cpuSharesToWeight(cpuWeightToShares(w))).toBe(w);
  });
});

describe('memory+swap (v1) <-> swap only (v2 and the vocabulary)', () => {
  it('memsw = max + swapMax; unlimited on either side is unlimited', () => {
    expect(memswFromSwap(64 << 20, 32 << 20)).toBe(96 << 20);
    expect(memswFromSwap(64 << 20, 0)).toBe(64 << 20);
    expect(memswFromSwap(null, 0)).toBeNull();
    expect(memswFromSwap(64 << 20, null)).toBeNull();
  });

  it('swapMax = memsw - max; memsw unlimited is unlimited; with memory unlimited memsw is the bound', () => {
    expect(swapFromMemsw(64 << 20, 96 << 20)).toBe(32 << 20);
    expect(swapFromMemsw(64 << 20, 64 << 20)).toBe(0);
    expect(swapFromMemsw(64 << 20, null)).toBeNull();
    expect(swapFromMemsw(null, 96 << 20)).toBe(96 << 20);
  });
});
