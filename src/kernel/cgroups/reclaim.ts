import { NsgateError } from '../errors.js';
import type { CgroupDir } from './files.js';
import { sleep } from './journal.js';
import { parseKernelNumber } from './units.js';

/** What a caller may ask of a staged lowering: how long to wait for usage to fall. */
export const RECLAIM_TIMEOUT_DEFAULT_MS = 10_000;
export const RECLAIM_TIMEOUT_MIN_MS = 100;
export const RECLAIM_TIMEOUT_MAX_MS = 60_000;
const POLL_MS = 100;

export interface StagedLowering<T> {
  version: 1 | 2;
  /** The cgroup's directory in the hierarchy that holds memory. */
  dir: CgroupDir;
  /** The memory limit asked for, in bytes. */
  target: number;
  timeoutMs: number;
  /**
   * Sets the limit, and throws LIMIT_BELOW_USAGE (changing nothing) while usage is above the
   * target: v1's write answers EBUSY after the kernel's own reclaim; v2 refuses before writing.
   * It must never be a write that lets the kernel OOM-kill.
   */
  attempt: () => Promise<T>;
  /** The change writes memory.high itself (v2): after a success, leave what it wrote. */
  changeSetsHigh?: boolean;
}

const num = (text: string | null): number | null => (text === null ? null : parseKernelNumber(text, { unlimitedAbove: true }));

export function isBelowUsage(err: unknown): boolean {
  return err instanceof NsgateError && err.code === 'LIMIT_BELOW_USAGE';
}

/**
 * Lowers a memory limit below what the cgroup holds without an OOM kill: one plain attempt;
 * when usage is above the target, throttle (v2 memory.high, v1 memory.soft_limit_in_bytes,
 * which steers the kernel's reclaim to this cgroup first), push reclaim (v2 memory.reclaim, where
 * the kernel has it; on v1 every refused write of memory.limit_in_bytes is itself a reclaim down
 * to the target, so the retries are the push), and try again until usage is under the target
 * or timeoutMs has passed. The throttle is put back either way. On timeout: LIMIT_BELOW_USAGE
 * with the numbers and what was tried; the limit is as it was. (v1 memory.force_empty is not
 * used: it empties a cgroup before rmdir, it does not reclaim to a target.)
 */
export async function lowerWithReclaim<T>(stage: StagedLowering<T>): Promise<T> {
  const { dir, target, version } = stage;
  try {
    return await stage.attempt();
  } catch (err) {
    if (!isBelowUsage(err)) throw err;
  }
  const usageFile = version === 1 ? 'memory.usage_in_bytes' : 'memory.current';
  const throttleFile = version === 1 ? 'memory.soft_limit_in_bytes' : 'memory.high';
  const previous = dir.readOptional(throttleFile)?.trim() ?? null;
  const tried: string[] = [];
  const started = Date.now();
  let attempts = 1;
  let succeeded = false;
  let reclaimRefused = 0;
  try {
    if (previous !== null) {
      await dir.write(throttleFile, String(target));
      tried.push(`${throttleFile} ${target}`);
    }
    for (;;) {
      if (version === 2 && dir.has('memory.reclaim')) {
        const usage = num(dir.readOptional(usageFile));
        if (usage !== null && usage > target) {
          if (!tried.includes('memory.reclaim')) tried.push('memory.reclaim');
          // EAGAIN: the kernel could not reclaim all of it this time; the loop asks again
          await dir.write('memory.reclaim', String(usage - target)).catch(() => void reclaimRefused++);
        }
      }
      await sleep(POLL_MS);
      attempts++;
      try {
        const result = await stage.attempt();
        succeeded = true;
        return result;
      } catch (err) {
        if (!isBelowUsage(err)) throw err;
      }
      if (Date.now() - started >= stage.timeoutMs) break;
    }
  } finally {
    if (previous !== null && !(succeeded && stage.changeSetsHigh)) {
      await dir.write(throttleFile, previous).catch(() => tried.push(`${throttleFile} not restored to ${previous}`));
    }
  }
  tried.push(version === 1 ? `memory.limit_in_bytes ${target} (${attempts} tries)` : `memory.max ${target} (${attempts} tries)`);
  const usage = num(dir.readOptional(usageFile));
  const peak = num(dir.readOptional(version === 1 ? 'memory.max_usage_in_bytes' : 'memory.peak'));
  const limit = num(dir.readOptional(version === 1 ? 'memory.limit_in_bytes' : 'memory.max'));
  throw new NsgateError(
    'LIMIT_BELOW_USAGE',
    `usage did not fall under ${target} within ${stage.timeoutMs} ms (usage: ${usage}, peak: ${peak}); the limit stays ${limit ?? 'max'} and nothing was killed`,
    { path: dir.path, field: 'memory.max', strategy: 'reclaim', requested: target, usage, peak, limit, timeoutMs: stage.timeoutMs, attempts, tried, ...(reclaimRefused ? { reclaimRefused } : {}) },
  );
}

/** The timeout a caller gave, checked: 100 ms .. 60 s, default 10 s. */
export function reclaimTimeout(value: unknown): number {
  if (value === undefined || value === null) return RECLAIM_TIMEOUT_DEFAULT_MS;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < RECLAIM_TIMEOUT_MIN_MS || value > RECLAIM_TIMEOUT_MAX_MS) {
    throw new NsgateError('LIMIT_INVALID', `timeoutMs must be an integer between ${RECLAIM_TIMEOUT_MIN_MS} and ${RECLAIM_TIMEOUT_MAX_MS}`, {
      field: 'timeoutMs',
      value,
    });
  }
  return value;
}
