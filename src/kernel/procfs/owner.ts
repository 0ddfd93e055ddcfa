import { type ProcOptions, procRootOf, statProcessDir } from './proc-file.js';

export interface ProcessOwner {
  uid: number;
  gid: number;
}

/**
 * The owner of /proc/PID: the effective uid/gid of the process, or root for one that is not
 * dumpable. This is what lsns prints in its USER column.
 */
export function readProcessOwner(pid: number, options?: ProcOptions): ProcessOwner {
  const stats = statProcessDir(procRootOf(options), pid);
  return { uid: stats.uid, gid: stats.gid };
}
