import { describe, expect, it } from 'vitest';
import { NsgateError } from '../../../src/kernel/errors.js';
import { assertPinned, pinProcess, unsharedNamespaces } from '../../../src/kernel/exec/pin.js';
import { fixture } from '../procfs/fixture.js';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof NsgateError) return err.code;
    throw err;
  }
  return 'no error';
}

describe('pinning a process (fixture /proc)', () => {
  it('pins a live process by pid and start time, with its namespaces', () => {
    const pin = pinProcess(100, fixture);
    expect(pin).toMatchObject({ pid: 100, startTimeTicks: 250000, comm: 'my sh) (x' });
    expect(pin.namespaces.net).toBe('4026532203');
    expect(() => assertPinned(pin, fixture)).not.toThrow();
  });

  it('refuses a kernel thread (409), a zombie (410), a missing pid (404) and a bad pid (400)', () => {
    expect(code(() => pinProcess(2, fixture))).toBe('KERNEL_THREAD');
    expect(code(() => pinProcess(300, fixture))).toBe('PROCESS_GONE');
    expect(code(() => pinProcess(999, fixture))).toBe('PROCESS_NOT_FOUND');
    expect(code(() => pinProcess(-1, fixture))).toBe('VALIDATION_FAILED');
  });

  it('a pin whose start time is not the process\'s any more is PROCESS_GONE (the pid was reused)', () => {
    expect(code(() => pinProcess(100, { ...fixture, expectedStartTimeTicks: 249999 }))).toBe('PROCESS_GONE');
    const stale = { ...pinProcess(100, fixture), startTimeTicks: 1 };
    expect(code(() => assertPinned(stale, fixture))).toBe('PROCESS_GONE');
    expect(code(() => assertPinned({ ...stale, pid: 999 }, fixture))).toBe('PROCESS_GONE');
  });

  it('a container\'s default namespaces are those it does not share with the host', () => {
    const container = pinProcess(100, fixture).namespaces;
    const host = { cgroup: '1', ipc: '2', mnt: '3', net: '4', pid: '5', time: '6', user: '7', uts: '8' };
    expect(unsharedNamespaces({ ...host, mnt: '30', pid: '50', user: null }, host)).toEqual(['mnt', 'pid']);
    expect(unsharedNamespaces(container, container)).toEqual([]);
  });
});
