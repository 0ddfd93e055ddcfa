import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsgateError } from '../errors.js';
import { type ProcOptions, procRootOf } from './proc-file.js';
import { readProcessStat } from './stat.js';

/** What it takes to turn /proc/PID/stat's start time (ticks since boot) into wall time. */
export interface ProcessClock {
  bootTimeMs: number;
  ticksPerSecond: number;
}

const FALLBACK_TICKS_PER_SECOND = 100;
let ticksPerSecond: number | undefined;

/**
 * USER_HZ, as sysconf(_SC_CLK_TCK) reports it. Node has no sysconf, so ask getconf once per
 * process; it is a compile-time constant of the kernel ABI (100 on every Linux arch nsgate
 * targets), which is also the fallback when getconf is missing.
 */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim());
      ticksPerSecond = Number.isSafeInteger(value) && value > 0 ? value : FALLBACK_TICKS_PER_SECOND;
    } catch {
      ticksPerSecond = FALLBACK_TICKS_PER_SECOND;
    }
  }
  return ticksPerSecond;
}

/** btime of `${procRoot}/stat`: the boot time in whole seconds since the epoch. */
export function readBootTimeMs(options?: ProcOptions): number {
  const text = readFileSync(join(procRootOf(options), 'stat'), 'utf8');
  const match = /^btime\s+(\d+)$/m.exec(text);
  if (!match) throw new NsgateError('INTERNAL', 'no btime line in /proc/stat');
  return Number(match[1]) * 1000;
}

const bootTimes = new Map<string, number>();

/** Boot time does not change while the host is up, so it is read once per proc root. */
export function readProcessClock(options?: ProcOptions): ProcessClock {
  const root = procRootOf(options);
  let bootTimeMs = bootTimes.get(root);
  if (bootTimeMs === undefined) {
    bootTimeMs = readBootTimeMs(options);
    bootTimes.set(root, bootTimeMs);
  }
  return { bootTimeMs, ticksPerSecond: clockTicksPerSecond() };
}

export function startTimeToIso(startTimeTicks: number, clock: ProcessClock): string {
  const ms = clock.bootTimeMs + Math.round((startTimeTicks * 1000) / clock.ticksPerSecond);
  return new Date(ms).toISOString();
}

/** A pid's start time now, or null when it is gone or a zombie (a zombie init is a dead container, a zombie owner a dead one). */
export function startTimeOf(procRoot: string, pid: number): number | null {
  try {
    const stat = readProcessStat(pid, { procRoot });
    return stat.state === 'Z' || stat.state === 'X' ? null : stat.startTimeTicks;
  } catch (err) {
    if (err instanceof NsgateError && err.code === 'PROCESS_NOT_FOUND') return null;
    throw err;
  }
}

/** True while `pid` is still the process that had `startTimeTicks`. */
export function samePidIncarnation(procRoot: string, pid: number, startTimeTicks: number): boolean {
  return startTimeOf(procRoot, pid) === startTimeTicks;
}
