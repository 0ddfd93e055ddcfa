import { NsgateError } from '../errors.js';
import { readProcessCgroups } from '../procfs/cgroup.js';
import { readProcessCmdline } from '../procfs/cmdline.js';
import { readNamespaceInodes } from '../procfs/namespace-links.js';
import { listPids } from '../procfs/pids.js';
import { isKernelThread, readProcessStat } from '../procfs/stat.js';
import { type ProcessClock, readProcessClock, startTimeToIso } from '../procfs/start-time.js';
import { readProcessStatus } from '../procfs/status.js';
import { readUserNames, userNameOf } from '../procfs/user-names.js';
import type { ProcessRecord } from './process-record.js';
import { type ProcessPartitionResult, type ScanPartition, inPartition } from './scan-protocol.js';

export function readProcessRecord(
  pid: number,
  procRoot: string,
  clock: ProcessClock,
  userNames: ReadonlyMap<number, string>,
): ProcessRecord {
  const options = { procRoot };
  const stat = readProcessStat(pid, options);
  const status = readProcessStatus(pid, options);
  return {
    pid,
    ppid: stat.ppid,
    state: stat.state,
    comm: stat.comm,
    cmdline: readProcessCmdline(pid, options),
    kernelThread: isKernelThread(stat),
    startTimeTicks: stat.startTimeTicks,
    startTime: startTimeToIso(stat.startTimeTicks, clock),
    uid: status.uid.effective,
    gid: status.gid.effective,
    user: userNameOf(userNames, status.uid.effective),
    nspid: status.nspid,
    threads: status.threads,
    namespaces: readNamespaceInodes(pid, options),
    cgroups: readProcessCgroups(pid, options),
  };
}

/** Processes that exit mid-read are left out; so is one the kernel will not let us read. */
function isSkippable(err: unknown): boolean {
  return err instanceof NsgateError && (err.code === 'PROCESS_NOT_FOUND' || err.code === 'KERNEL_PERMISSION_DENIED');
}

/** A worker's share of the process list. */
export function scanProcessPartition(
  procRoot: string,
  passwdPath: string,
  partition: ScanPartition,
): ProcessPartitionResult {
  const clock = readProcessClock({ procRoot });
  const userNames = readUserNames(passwdPath);
  const processes: ProcessRecord[] = [];
  for (const pid of listPids(procRoot)) {
    if (!inPartition(pid, partition)) continue;
    try {
      processes.push(readProcessRecord(pid, procRoot, clock, userNames));
    } catch (err) {
      if (!isSkippable(err)) throw err;
    }
  }
  return { kind: 'processes', processes, ...clock };
}
