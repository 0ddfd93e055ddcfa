import type { CgroupDir } from './files.js';

interface Entry {
  dir: CgroupDir;
  file: string;
  previous: string;
}

/**
 * The writes of one change, each with the value it replaced, so a change that fails half-way
 * can put back what it had already written: a refused change leaves the kernel as it was.
 */
export class WriteJournal {
  private readonly entries: Entry[] = [];

  /** Writes `value` and remembers `previous` (what to write to undo it). */
  async write(dir: CgroupDir, file: string, value: string, previous: string): Promise<void> {
    await dir.write(file, value);
    this.entries.push({ dir, file, previous });
  }

  get length(): number {
    return this.entries.length;
  }

  /** Undoes the writes, newest first; returns the files it could not restore (best effort, never throws). */
  async rollback(): Promise<string[]> {
    const failed: string[] = [];
    for (const { dir, file, previous } of this.entries.reverse()) {
      try {
        await dir.write(file, previous);
      } catch {
        failed.push(`${dir.path}/${file}`);
      }
    }
    this.entries.length = 0;
    return failed;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` until it returns true or `timeoutMs` passes; `onTick` runs every `everyTicks`
 * polls (re-writing FROZEN while a v1 freezer is stuck FREEZING, for instance).
 */
export async function pollUntil(
  check: () => boolean,
  options: { timeoutMs: number; intervalMs?: number; onTick?: () => Promise<void>; everyTicks?: number },
): Promise<boolean> {
  const until = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 10;
  for (let tick = 1; ; tick++) {
    if (check()) return true;
    if (Date.now() >= until) return check();
    await sleep(interval);
    if (options.onTick && tick % (options.everyTicks ?? 10) === 0) await options.onTick();
  }
}
