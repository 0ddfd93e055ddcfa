import { describe, expect, it } from 'vitest';
import { canonicalJson, checkPrecondition, limitsVersion, parseIfMatch } from '../../../src/changes/limits-version.js';
import { NsgateError } from '../../../src/kernel/errors.js';

describe('limits versions', () => {
  it('depend on the values, not on the order of their keys', () => {
    const a = { memory: { max: 1, high: null }, pids: { max: 64 } };
    const b = { pids: { max: 64 }, memory: { high: null, max: 1 } };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(limitsVersion(a)).toBe(limitsVersion(b));
    expect(limitsVersion({ ...a, pids: { max: 65 } })).not.toBe(limitsVersion(a));
    expect(limitsVersion(a)).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('reads If-Match as quoted or bare tags, lists and *; weak tags never match', () => {
    expect(parseIfMatch(undefined)).toBeUndefined();
    expect(parseIfMatch('')).toBeUndefined();
    expect(parseIfMatch('*')).toBe('*');
    expect(parseIfMatch('"abc", def')).toEqual(['abc', 'def']);
    expect(parseIfMatch('W/"abc"')).toEqual([]);
  });

  it('refuses a moved version with the current values and version, and lets the current one through', () => {
    const current = { version: limitsVersion({ pids: { max: 70 } }), values: { pids: { max: 70 } } };
    expect(() => checkPrecondition(undefined, 'cgroup:/a', current)).not.toThrow();
    expect(() => checkPrecondition('*', 'cgroup:/a', current)).not.toThrow();
    expect(() => checkPrecondition([current.version], 'cgroup:/a', current)).not.toThrow();
    let err: unknown;
    try {
      checkPrecondition(['old'], 'cgroup:/a', current);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NsgateError);
    expect((err as NsgateError).code).toBe('PRECONDITION_FAILED');
    expect((err as NsgateError).details).toMatchObject({ version: current.version, current: { pids: { max: 70 } } });
    // a weak-only If-Match never matches
    expect(() => checkPrecondition(parseIfMatch(`W/"${current.version}"`), 'cgroup:/a', current)).toThrow(NsgateError);
  });
});
