import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isErrno } from '../errors.js';

/** PF_KTHREAD in /proc/PID/stat flags: kernel threads cannot be moved between cgroups. */
const PF_KTHREAD = 0x00200000;

export interface ProcessBrief {
  state: string;
  kernelThread: boolean;
}

/**
 * State and kernel-thread flag from /proc/PID/stat, or null when the process is gone. Fields are
 * counted after the last ")" since comm may hold spaces and parentheses.
 */
export function readProcessBrief(procRoot: string, pid: number): ProcessBrief | null {
  let text: string;
  try {
    text = readFileSync(join(procRoot, String(pid), 'stat'), 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ESRCH')) return null;
    throw err;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const flags = Number(fields[6]);
  return { state: fields[0], kernelThread: Number.isFinite(flags) && (flags & PF_KTHREAD) !== 0 };
}

/** Alive for a kill's purpose: exists and is not a zombie (a zombie only waits to be reaped). */
export function processAlive(procRoot: string, pid: number): boolean {
  const brief = readProcessBrief(procRoot, pid);
  return brief !== null && brief.state !== 'Z' && brief.state !== 'X';
}
