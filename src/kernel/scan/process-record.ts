import type { CgroupMembership } from '../procfs/cgroup.js';
import type { NamespaceInodes } from '../procfs/namespace-links.js';

/** Everything the process list shows about one process, read in one pass over its /proc files. */
export interface ProcessRecord {
  pid: number;
  ppid: number;
  /** stat's state letter. */
  state: string;
  comm: string;
  /** [] for kernel threads and zombies. */
  cmdline: string[];
  kernelThread: boolean;
  startTimeTicks: number;
  /** ISO 8601, from boot time and the tick rate. */
  startTime: string;
  /** Effective ids, the ones ps shows as USER. */
  uid: number;
  gid: number;
  user: string;
  /** The pid in each pid namespace from the host's down to the process's own. */
  nspid: number[];
  threads: number;
  namespaces: NamespaceInodes;
  cgroups: CgroupMembership[];
}
