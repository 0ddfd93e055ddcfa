import type { NamespaceHolder, NamespaceMembershipTable } from '../namespaces.js';
import type { ProcessRecord } from './process-record.js';

/**
 * What crosses the worker boundary. A scan may be split across several workers: worker i of n
 * reads the pids with pid % n === i (each worker lists /proc itself, so no pid list is sent).
 */
export type ScanKind = 'namespaces' | 'processes';

export interface ScanPartition {
  index: number;
  count: number;
}

export interface ScanRequest {
  id: number;
  kind: ScanKind;
  procRoot: string;
  passwdPath: string;
  partition: ScanPartition;
}

/** One worker's share of a namespace scan: its memberships and its local lowest pids' details. */
export interface NamespacePartitionResult {
  kind: 'namespaces';
  table: NamespaceMembershipTable;
  holders: NamespaceHolder[];
}

export interface ProcessPartitionResult {
  kind: 'processes';
  processes: ProcessRecord[];
  bootTimeMs: number;
  ticksPerSecond: number;
}

export type PartitionResult = NamespacePartitionResult | ProcessPartitionResult;

/** An error as data: NsgateError's code and details survive the structured clone. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  details?: Record<string, unknown>;
}

export type ScanReply =
  | { id: number; ok: true; result: PartitionResult }
  | { id: number; ok: false; error: SerializedError };

export function inPartition(pid: number, partition: ScanPartition): boolean {
  return partition.count <= 1 || pid % partition.count === partition.index;
}
