import type { CgroupDir } from './files.js';

interface Entry {
  dir: CgroupDir;
  file: string;
  previous: string;
}

/** One file write of a limits change, as a plan shows it: the cgroupfs file, the value it held, the value written. */
export interface LimitWrite {
  file: string;
  from: string;
  to: string;
}

export interface JournalOptions {
  /** Record the writes without making them (a dry run: the same code path decides the files, values and order). */
  dryRun?: boolean;
  /** Told of each write as it is made (or, in a dry run, as it would be made). */
  onWrite?: (write: LimitWrite) => void;
}

/**
 * The writes of one change, each with the value it replaced, so a change that fails half-way
 * can put back what it had already written: a refused change leaves the kernel as it was.
 */
export class WriteJournal {
  private readonly entries: Entry[] = [];

  constructor(private readonly options: JournalOptions = {}) {}

  /** Writes `value` and remembers `previous` (what to write to undo it). */
  async write(dir: CgroupDir, file: string, value: string, previous: string): Promise<void> {
    // what the file holds, as the kernel prints it (previous is what undoes the write: "-1" for a v1 "unlimited")
    const from = this.options.onWrite ? (dir.readOptional(file)?.trim() ?? previous) : previous;
    if (!this.options.dryRun) await dir.write(file, value);
    this.options.onWrite?.({ file: `${dir.fsPath}/${file}`, from, to: value });
    if (!this.options.dryRun) this.entries.push({ dir, file, previous });
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
