import { describe, expect, it } from 'vitest';
import { movedFields, parseIdList, parseLimitsInput } from '../../../src/kernel/cgroups/index.js';
import { codeOf } from './fixture.js';

const host = { cpus: parseIdList('0-1'), mems: parseIdList('0') };
const parse = (input: unknown) => parseLimitsInput(input, host);

describe('parseLimitsInput', () => {
  it('turns every accepted spelling into one change', () => {
    expect(
      parse({
        memory: { max: '8000000', swapMax: '64M', high: 'max' },
        cpu: { max: '50000 100000', weight: 200 },
        pids: { max: 64 },
        cpuset: { cpus: '1,0', mems: '0' },
      }),
    ).toEqual({
      memory: { max: 8000000, swapMax: 64 * 1024 * 1024, high: null },
      cpu: { quotaUs: 50000, periodUs: 100000, weight: 200 },
      pids: { max: 64 },
      cpuset: { cpus: '0-1', mems: '0' },
    });
    expect(parse({ cpu: { max: { quotaUs: 20000, periodUs: 50000 } } })).toEqual({ cpu: { quotaUs: 20000, periodUs: 50000 } });
    expect(parse({ cpu: { max: 'max' }, pids: { max: 'max' } })).toEqual({ cpu: { quotaUs: null }, pids: { max: null } });
    expect(parse({ cpu: { quotaUs: 'max', periodUs: 1000, shares: 512 } })).toEqual({ cpu: { quotaUs: null, periodUs: 1000, shares: 512 } });
    expect(parse({ memory: { max: null } })).toEqual({ memory: { max: null } });
  });

  it.each([
    [{ memory: { max: 6 * 1024 * 1024 - 1 } }, 'memory.max'],
    [{ memory: { max: '4M' } }, 'memory.max'],
    [{ memory: { high: 1000 } }, 'memory.high'],
    [{ memory: { max: 'lots' } }, 'memory.max'],
    [{ memory: { swapMax: -5 } }, 'memory.swapMax'],
    [{ cpu: { quotaUs: 999 } }, 'cpu.quotaUs'],
    [{ cpu: { max: '999 100000' } }, 'cpu.max'],
    [{ cpu: { periodUs: 999 } }, 'cpu.periodUs'],
    [{ cpu: { periodUs: 1_000_001 } }, 'cpu.periodUs'],
    [{ cpu: { max: '50000 100000', quotaUs: 1000 } }, 'cpu.max'],
    [{ cpu: { weight: 0 } }, 'cpu.weight'],
    [{ cpu: { weight: 10001 } }, 'cpu.weight'],
    [{ cpu: { shares: 1 } }, 'cpu.shares'],
    [{ cpu: { weight: 100, shares: 1024 } }, 'cpu.weight'],
    [{ pids: { max: 0 } }, 'pids.max'],
    [{ pids: { max: 4194305 } }, 'pids.max'],
    [{ pids: { max: 1.5 } }, 'pids.max'],
    [{ cpuset: { cpus: '1-9223372036854775807' } }, 'cpuset.cpus'],
    [{ cpuset: { cpus: '2' } }, 'cpuset.cpus'],
    [{ cpuset: { mems: '1' } }, 'cpuset.mems'],
    [{ cpuset: { cpus: 0 } }, 'cpuset.cpus'],
    [{ memory: { maxx: 1 } }, 'memory.maxx'],
    [{ blkio: {} }, 'blkio'],
    [{ memory: 'lots' }, 'memory'],
    [null, 'limits'],
  ])('refuses %j (field %s)', (input, field) => {
    try {
      parse(input);
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: 'LIMIT_INVALID', details: { field } });
    }
  });

  it('accepts the bounds themselves', async () => {
    expect(await codeOf(() => parse({ memory: { max: 6 * 1024 * 1024 }, cpu: { quotaUs: 1000, periodUs: 1_000_000 }, pids: { max: 1 } }))).toBe('no error');
    expect(await codeOf(() => parse({ cpu: { periodUs: 1000, weight: 1 }, pids: { max: 4194304 } }))).toBe('no error');
  });
});

describe('movedFields', () => {
  const before = {
    memory: { max: 8_388_608, high: null, swapMax: null },
    cpu: { quotaUs: null, periodUs: 100_000, weight: 59, shares: 512 },
    pids: { max: 64 },
    cpuset: { cpus: '0-1', mems: '0', effectiveCpus: '0-1', effectiveMems: '0' },
  };
  it('names only the fields a change moved, quota with its period', () => {
    const after = { ...before, memory: { ...before.memory, max: null }, cpu: { quotaUs: 50_000, periodUs: 100_000, weight: 100, shares: 1024 } };
    expect(movedFields(before, after)).toEqual({ memory: { max: null }, cpu: { quotaUs: 50_000, periodUs: 100_000, weight: 100 } });
    expect(movedFields(before, { ...before, pids: { max: null } })).toEqual({ pids: { max: null } });
    expect(movedFields(before, before)).toEqual({});
  });

  it('a cpuset change names what was asked, never the effective lists (read only, they follow)', () => {
    const after = { ...before, cpuset: { cpus: '0', mems: '0', effectiveCpus: '0', effectiveMems: '0' } };
    expect(movedFields(before, after)).toEqual({ cpuset: { cpus: '0', mems: '0' } });
    expect(movedFields(before, { ...before, cpuset: { ...before.cpuset, effectiveCpus: '0' } })).toEqual({});
  });
});
