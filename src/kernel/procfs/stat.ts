import { NsgateError } from '../errors.js';
import { type ProcOptions, procRootOf, readProcText } from './proc-file.js';

/** The fields of /proc/PID/stat that nsgate uses (proc(5) numbering in comments). */
export interface ProcessStat {
  pid: number;
  /** (2) the command name, up to 15 bytes, as the kernel keeps it. */
  comm: string;
  /** (3) R, S, D, Z, T, t, X, I ... */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  ttyNr: number;
  /** (9) PF_* flags; see isKernelThread. */
  flags: number;
  utimeTicks: number;
  stimeTicks: number;
  priority: number;
  nice: number;
  threads: number;
  /** (22) start time in clock ticks since boot; see startTimeToIso. */
  startTimeTicks: number;
  vsizeBytes: number;
  rssPages: number;
}

const PF_KTHREAD = 0x00200000;

/** The kernel marks its own threads with PF_KTHREAD; they have no cmdline, mm or environ. */
export function isKernelThread(stat: Pick<ProcessStat, 'flags'>): boolean {
  return (stat.flags & PF_KTHREAD) !== 0;
}

/**
 * comm may itself contain spaces and ')' , so the fields after it are found from the last
 * ')' of the line, not by splitting the whole line.
 */
export function parseProcStat(text: string): ProcessStat {
  const open = text.indexOf(' (');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) {
    throw new NsgateError('INTERNAL', 'unreadable /proc/PID/stat line', { line: text.slice(0, 200) });
  }
  const rest = text.slice(close + 2).trimEnd().split(' ');
  const field = (n: number): number => Number(rest[n - 3]);
  return {
    pid: Number(text.slice(0, open)),
    comm: text.slice(open + 2, close),
    state: rest[0] ?? '?',
    ppid: field(4),
    pgrp: field(5),
    session: field(6),
    ttyNr: field(7),
    flags: field(9),
    utimeTicks: field(14),
    stimeTicks: field(15),
    priority: field(18),
    nice: field(19),
    threads: field(20),
    startTimeTicks: field(22),
    vsizeBytes: field(23),
    rssPages: field(24),
  };
}

export function readProcessStat(pid: number, options?: ProcOptions): ProcessStat {
  return parseProcStat(readProcText(procRootOf(options), pid, 'stat'));
}
