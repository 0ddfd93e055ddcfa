import { NsgateError } from '../errors.js';
import { sleep } from './journal.js';

const STILL_EMPTYING = ['CGROUP_NOT_EMPTY', 'KERNEL_BUSY', 'CGROUP_BUSY'];

/**
 * Removes one of nsgate's own cgroups (an exec's, a sandbox's) once the kernel lets it: rmdir
 * fails while exiting processes are still listed, so it retries, killing what is left every tenth
 * try. False when the cgroup would not go (or another error came); never throws.
 */
export async function removeOwnCgroup(remove: () => Promise<void>, kill: () => Promise<unknown>, attempts = 50): Promise<boolean> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      await remove();
      return true;
    } catch (err) {
      if (!(err instanceof NsgateError) || !STILL_EMPTYING.includes(err.code)) return false;
      if (attempt % 10 === 9) await kill().catch(() => undefined);
      await sleep(20);
    }
  }
  return false;
}
