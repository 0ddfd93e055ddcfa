import {
  type NamespaceEntry,
  type NamespaceHolder,
  type NamespaceMembershipTable,
  buildNamespaceInventory,
  mergeMembershipTables,
  tallyNamespaces,
} from '../namespaces.js';
import type { ProcessRecord } from './process-record.js';
import type { NamespacePartitionResult, PartitionResult, ProcessPartitionResult } from './scan-protocol.js';

/**
 * When a scan ran. Times are epoch milliseconds; the scan's reads all fall between the two.
 * A snapshot is shared by every caller of its scan: treat it as read-only.
 */
export interface ScanTiming {
  startedAt: number;
  finishedAt: number;
}

/** The lsns inventory, plus who is in which namespace. */
export interface NamespaceSnapshot extends ScanTiming {
  namespaces: NamespaceEntry[];
  memberships: NamespaceMembershipTable;
}

export interface ProcessSnapshot extends ScanTiming {
  /** Ascending by pid. */
  processes: ProcessRecord[];
  bootTimeMs: number;
  ticksPerSecond: number;
}

export function mergeNamespacePartitions(parts: readonly PartitionResult[], timing: ScanTiming): NamespaceSnapshot {
  const shares = parts.filter((part): part is NamespacePartitionResult => part.kind === 'namespaces');
  const memberships = mergeMembershipTables(shares.map((share) => share.table));
  const holders: NamespaceHolder[] = shares.flatMap((share) => share.holders);
  return { ...timing, namespaces: buildNamespaceInventory(tallyNamespaces(memberships), holders), memberships };
}

export function mergeProcessPartitions(parts: readonly PartitionResult[], timing: ScanTiming): ProcessSnapshot {
  const shares = parts.filter((part): part is ProcessPartitionResult => part.kind === 'processes');
  const processes = shares.flatMap((share) => share.processes).sort((a, b) => a.pid - b.pid);
  const clock = shares[0] ?? { bootTimeMs: 0, ticksPerSecond: 100 };
  return { ...timing, processes, bootTimeMs: clock.bootTimeMs, ticksPerSecond: clock.ticksPerSecond };
}
