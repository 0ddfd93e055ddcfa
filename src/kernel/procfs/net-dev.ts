import { type ProcOptions, procRootOf, readProcText } from './proc-file.js';

/** One interface's counters, as /proc/PID/net/dev prints them for the process's network namespace. */
export interface InterfaceCounters {
  interface: string;
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

/** The sum over interfaces (same fields, no name). */
export type NetworkCounters = Omit<InterfaceCounters, 'interface'>;

/*
 * Field order after "name:" (two header lines first): receive bytes packets errs drop fifo frame
 * compressed multicast, then transmit bytes packets errs drop fifo colls carrier compressed.
 */
const RX_BYTES = 0;
const TX_BYTES = 8;

export function parseNetDev(text: string): InterfaceCounters[] {
  const out: InterfaceCounters[] = [];
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    if (fields.length < 16 || fields.some((n) => !Number.isFinite(n))) continue;
    out.push({
      interface: line.slice(0, colon).trim(),
      rxBytes: fields[RX_BYTES]!,
      rxPackets: fields[RX_BYTES + 1]!,
      rxErrors: fields[RX_BYTES + 2]!,
      rxDropped: fields[RX_BYTES + 3]!,
      txBytes: fields[TX_BYTES]!,
      txPackets: fields[TX_BYTES + 1]!,
      txErrors: fields[TX_BYTES + 2]!,
      txDropped: fields[TX_BYTES + 3]!,
    });
  }
  return out;
}

/**
 * The interfaces of pid's network namespace, loopback left out: `docker stats` counts the
 * container's own endpoints (a `--network none` container shows 0 B / 0 B) and cAdvisor skips `lo`.
 * PROCESS_NOT_FOUND when the process is gone.
 */
export function readNetworkInterfaces(pid: number, options?: ProcOptions): InterfaceCounters[] {
  return parseNetDev(readProcText(procRootOf(options), pid, 'net/dev')).filter((i) => i.interface !== 'lo');
}

export function sumInterfaces(interfaces: readonly InterfaceCounters[]): NetworkCounters {
  const sum: NetworkCounters = { rxBytes: 0, rxPackets: 0, rxErrors: 0, rxDropped: 0, txBytes: 0, txPackets: 0, txErrors: 0, txDropped: 0 };
  for (const i of interfaces) for (const key of Object.keys(sum) as (keyof NetworkCounters)[]) sum[key] += i[key];
  return sum;
}
