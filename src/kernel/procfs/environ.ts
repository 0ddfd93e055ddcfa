import { NsgateError } from '../errors.js';
import { type ProcOptions, processExists, processGone, procRootOf, readProcBuffer } from './proc-file.js';

export interface EnvironmentVariable {
  key: string;
  value: string;
}

/** NUL-separated KEY=VALUE; an entry without '=' is a key with an empty value. */
export function parseEnviron(bytes: Buffer): EnvironmentVariable[] {
  const vars: EnvironmentVariable[] = [];
  for (const entry of bytes.toString('utf8').split('\0')) {
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    vars.push(eq < 0 ? { key: entry, value: '' } : { key: entry.slice(0, eq), value: entry.slice(eq + 1) });
  }
  return vars;
}

/**
 * The initial environment of a process. Kernel threads and zombies have no memory to read it
 * from, and the kernel answers ESRCH although /proc/PID is still there: that is an empty
 * environment, not a missing process.
 */
export function readProcessEnviron(pid: number, options?: ProcOptions): EnvironmentVariable[] {
  const procRoot = procRootOf(options);
  try {
    return parseEnviron(readProcBuffer(procRoot, pid, 'environ'));
  } catch (err) {
    if (err instanceof NsgateError && err.code === 'PROCESS_NOT_FOUND') {
      if (processExists(procRoot, pid)) return [];
      throw processGone(pid);
    }
    throw err;
  }
}
