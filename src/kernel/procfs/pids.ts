import { readdirSync } from 'node:fs';
import { DEFAULT_PROC_ROOT } from './proc-file.js';

/**
 * The pids of every process (thread-group leader) that procfs lists, ascending. Threads
 * are not listed in /proc itself (only reachable as /proc/TID), which is also what
 * lsns and ps walk.
 */
export function listPids(procRoot: string = DEFAULT_PROC_ROOT): number[] {
  const pids: number[] = [];
  for (const name of readdirSync(procRoot)) {
    const first = name.charCodeAt(0);
    if (first < 48 || first > 57) continue;
    const pid = Number(name);
    if (Number.isSafeInteger(pid) && pid > 0) pids.push(pid);
  }
  return pids.sort((a, b) => a - b);
}
