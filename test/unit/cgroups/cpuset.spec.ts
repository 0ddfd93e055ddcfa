import { describe, expect, it } from 'vitest';
import { formatIdList, parseIdList, rangesWithin, validateIdList } from '../../../src/kernel/cgroups/index.js';
import { codeOf } from './fixture.js';

describe('cpuset lists', () => {
  it('parses, sorts and merges without expanding', () => {
    expect(parseIdList('0-3,5')).toEqual([
      [0, 3],
      [5, 5],
    ]);
    expect(parseIdList('5,0,1,2')).toEqual([
      [0, 2],
      [5, 5],
    ]);
    expect(parseIdList('\n')).toEqual([]);
    expect(formatIdList(parseIdList('1,0'))).toBe('0-1');
  });

  it('refuses 1-9223372036854775807 fast, before any arithmetic', async () => {
    const t0 = performance.now();
    expect(await codeOf(() => parseIdList('1-9223372036854775807'))).toBe('LIMIT_INVALID');
    expect(await codeOf(() => validateIdList('0-4294967295', [[0, 1]], 'cpuset.cpus'))).toBe('LIMIT_INVALID');
    expect(performance.now() - t0).toBeLessThan(50);
  });

  it.each(['3-1', 'a', '0-', '-1', '0,,1', '0-1:2/4', '1.5', `${'1,'.repeat(2000)}1`])('refuses %s', async (list) => {
    expect(await codeOf(() => parseIdList(list))).toBe('LIMIT_INVALID');
  });

  it('bounds a list by the online set', async () => {
    const online = parseIdList('0-1');
    expect(validateIdList('1', online, 'cpuset.cpus')).toBe('1');
    expect(validateIdList('0,1', online, 'cpuset.cpus')).toBe('0-1');
    expect(await codeOf(() => validateIdList('2', online, 'cpuset.cpus'))).toBe('LIMIT_INVALID');
    expect(await codeOf(() => validateIdList('0-7', online, 'cpuset.cpus'))).toBe('LIMIT_INVALID');
    expect(rangesWithin(parseIdList('0,2'), parseIdList('0-1,3'))).toBe(false);
    expect(rangesWithin(parseIdList('3'), parseIdList('0-1,3'))).toBe(true);
  });
});
