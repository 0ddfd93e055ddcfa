import { NsgateError } from '../errors.js';
import { isKernelThread, readProcessStat } from '../procfs/stat.js';

export interface ProcessBrief {
  state: string;
  kernelThread: boolean;
}

/** State and kernel-thread flag (from the one /proc/PID/stat parser), or null when the process is gone. */
export function readProcessBrief(procRoot: string, pid: number): ProcessBrief | null {
  try {
    const stat = readProcessStat(pid, { procRoot });
    return { state: stat.state, kernelThread: isKernelThread(stat) };
  } catch (err) {
    if (err instanceof NsgateError && err.code === 'PROCESS_NOT_FOUND') return null;
    throw err;
  }
}

/** Alive for a kill's purpose: exists and is not a zombie (a zombie only waits to be reaped). */
export function processAlive(procRoot: string, pid: number): boolean {
  const brief = readProcessBrief(procRoot, pid);
  return brief !== null && brief.state !== 'Z' && brief.state !== 'X';
}
