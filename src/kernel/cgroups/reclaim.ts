import { NsgateError } from '../errors.js';
import type { LimitsChange, SetLimitsOptions } from './driver.js';
import type { CgroupDir } from './files.js';
import { type LimitWrite, sleep } from './journal.js';
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

/**
 * What lowerWithReclaim would write around the limit, said without writing (a dry run): the
 * throttle, the reclaim push (v2, where the kernel has memory.reclaim: the bytes above the
 * target now) and the throttle put back, in order, as a plan's writes are said; [] when usage is
 * not above the target (the plain write would do).
 */
export function stagedLoweringPlan(stage: Pick<StagedLowering<unknown>, 'version' | 'dir' | 'target' | 'changeSetsHigh'>): LimitWrite[] {
  const { dir, target, version } = stage;
  const usage = num(dir.readOptional(version === 1 ? 'memory.usage_in_bytes' : 'memory.current'));
  if (usage === null || usage <= target) return [];
  const throttleFile = version === 1 ? 'memory.soft_limit_in_bytes' : 'memory.high';
  const previous = dir.readOptional(throttleFile)?.trim() ?? null;
  const writes: LimitWrite[] = [];
  if (previous !== null) writes.push({ file: `${dir.fsPath}/${throttleFile}`, from: previous, to: String(target) });
  if (version === 2 && dir.has('memory.reclaim')) writes.push({ file: `${dir.fsPath}/memory.reclaim`, from: '', to: String(usage - target) });
  if (previous !== null && !stage.changeSetsHigh) writes.push({ file: `${dir.fsPath}/${throttleFile}`, from: String(target), to: previous });
  return writes;
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

/**
 * The memory target of a change made with strategy "reclaim" (null: an ordinary change, or one
 * that sets no memory max); refuses strategy with force (it would let the kernel OOM-kill) and a
 * timeout out of bounds. Checked before anything is read or written, dry run or not.
 */
export function stagedTargetOf(change: LimitsChange, options: SetLimitsOptions): { target: number; timeoutMs: number } | null {
  if (options.strategy === undefined) return null;
  if (options.strategy !== 'reclaim') throw new NsgateError('LIMIT_INVALID', 'strategy must be "reclaim"', { field: 'strategy', value: options.strategy });
  if (options.force) {
    throw new NsgateError('LIMIT_INVALID', 'strategy "reclaim" never lets the kernel OOM-kill: send it without force', { field: 'force', value: true });
  }
  const timeoutMs = reclaimTimeout(options.timeoutMs);
  const target = change.memory?.max;
  return typeof target === 'number' ? { target, timeoutMs } : null;
}
