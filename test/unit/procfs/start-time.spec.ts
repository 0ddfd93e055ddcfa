import { describe, expect, it } from 'vitest';
import {
  clockTicksPerSecond,
  readBootTimeMs,
  readProcessClock,
  readProcessStat,
  startTimeToIso,
} from '../../../src/kernel/procfs/index.js';
import { fixture } from './fixture.js';

describe('start time', () => {
  it('reads btime from the proc root', () => {
    expect(readBootTimeMs(fixture)).toBe(1_700_000_000_000);
  });

  it('turns ticks since boot into an ISO time', () => {
    const clock = { bootTimeMs: 1_700_000_000_000, ticksPerSecond: 100 };
    expect(startTimeToIso(readProcessStat(100, fixture).startTimeTicks, clock)).toBe('2023-11-14T22:55:00.000Z');
    expect(startTimeToIso(14, clock)).toBe('2023-11-14T22:13:20.140Z');
  });

  it('asks getconf for USER_HZ once', () => {
    const ticks = clockTicksPerSecond();
    expect(ticks).toBeGreaterThan(0);
    expect(readProcessClock(fixture)).toEqual({ bootTimeMs: 1_700_000_000_000, ticksPerSecond: ticks });
  });

  it('puts this process start within the last hour on the real kernel', () => {
    const started = Date.parse(startTimeToIso(readProcessStat(process.pid).startTimeTicks, readProcessClock()));
    expect(Math.abs(Date.now() - started)).toBeLessThan(3_600_000);
  });
});
