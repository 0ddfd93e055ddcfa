// The polling side of pressure triggers (the kernel's rule applied to PSI totals) and the spec
// checks, with a fake total counter: the kernel side is tested in test/e2e/pressure.e2e.ts.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseTriggerSpec, PressureTriggers, type TriggerState } from '../../../src/kernel/pressure/triggers.js';

describe('trigger specs', () => {
  it('takes what the kernel takes, and refuses the rest before anything is armed', () => {
    expect(parseTriggerSpec({ resource: 'memory', kind: 'some', stallUs: 150_000, windowUs: 2_000_000 })).toEqual({ resource: 'memory', kind: 'some', stallUs: 150_000, windowUs: 2_000_000 });
    expect(() => parseTriggerSpec({ resource: 'disk', kind: 'some', stallUs: 1, windowUs: 1_000_000 })).toThrow(/resource/);
    expect(() => parseTriggerSpec({ resource: 'cpu', kind: 'most', stallUs: 1, windowUs: 1_000_000 })).toThrow(/kind/);
    expect(() => parseTriggerSpec({ resource: 'cpu', kind: 'some', stallUs: 1, windowUs: 400_000 })).toThrow(/windowUs/);
    expect(() => parseTriggerSpec({ resource: 'cpu', kind: 'some', stallUs: 1, windowUs: 11_000_000 })).toThrow(/windowUs/);
    expect(() => parseTriggerSpec({ resource: 'cpu', kind: 'some', stallUs: 1_000_000, windowUs: 1_000_000 })).toThrow(/stallUs/);
    expect(() => parseTriggerSpec({ resource: 'cpu', kind: 'some', stallUs: 0.5, windowUs: 1_000_000 })).toThrow(/stallUs/);
  });
});

describe('polling triggers', () => {
  afterEach(() => vi.useRealTimers());

  it('fires when the stall within the window reaches stallUs, at most once per window, and says why it polls', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    let total = 0;
    const fired: TriggerState[] = [];
    const triggers = new PressureTriggers({ helperPath: null, pressureFile: () => null, readTotal: () => total, onFire: (s) => fired.push(s), pollMs: 100 });
    const t = await triggers.add('/nsgate/x', { resource: 'memory', kind: 'some', stallUs: 100_000, windowUs: 1_000_000 });
    expect(t.mode).toBe('polling');
    expect(t.modeReason).toMatch(/no memory\.pressure in a cgroup v2 tree/);
    // 5 ms of stall per 100 ms: 50 ms per window, under the threshold
    for (let i = 0; i < 20; i++) {
      total += 5_000;
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(fired).toHaveLength(0);
    // 30 ms per 100 ms: reaches 100 ms within a window
    for (let i = 0; i < 30; i++) {
      total += 30_000;
      await vi.advanceTimersByTimeAsync(100);
    }
    // 3 s of steady pressure: once per 1 s window, not once per poll
    expect(fired.length).toBeGreaterThanOrEqual(2);
    expect(fired.length).toBeLessThanOrEqual(3);
    expect(fired.at(-1)!.fired).toBe(fired.length);
    triggers.stop();
  });

  it('refuses a cgroup without PSI, and drops a trigger whose cgroup went away', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const none = new PressureTriggers({ helperPath: null, pressureFile: () => null, readTotal: () => null, onFire: () => undefined });
    await expect(none.add('/nsgate/x', { resource: 'io', kind: 'full', stallUs: 1, windowUs: 1_000_000 })).rejects.toMatchObject({ code: 'CONTROLLER_UNAVAILABLE' });
    let alive = true;
    const gone: TriggerState[] = [];
    const triggers = new PressureTriggers({ helperPath: null, pressureFile: () => null, readTotal: () => (alive ? 0 : null), onFire: () => undefined, onGone: (s) => gone.push(s), pollMs: 100 });
    const t = await triggers.add('/nsgate/y', { resource: 'cpu', kind: 'some', stallUs: 1, windowUs: 1_000_000 });
    alive = false;
    await vi.advanceTimersByTimeAsync(200);
    expect(gone.map((g) => g.id)).toEqual([t.id]);
    expect(triggers.list()).toEqual([]);
    triggers.stop();
  });
});
