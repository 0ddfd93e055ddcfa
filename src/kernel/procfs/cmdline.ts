import { type ProcOptions, procRootOf, readProcBuffer } from './proc-file.js';

/**
 * argv as NUL-separated strings. Trailing NULs are dropped as a whole: processes that
 * rewrite their title (nginx, postgres) pad the old argv area with NULs, and ps shows
 * those as nothing too. Kernel threads and zombies have an empty cmdline: [].
 */
export function parseCmdline(bytes: Buffer): string[] {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  if (end === 0) return [];
  return bytes.subarray(0, end).toString('utf8').split('\0');
}

export function readProcessCmdline(pid: number, options?: ProcOptions): string[] {
  return parseCmdline(readProcBuffer(procRootOf(options), pid, 'cmdline'));
}
