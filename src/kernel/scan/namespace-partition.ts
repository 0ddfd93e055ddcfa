import { readNamespaceHolders, scanNamespaceMemberships, tallyNamespaces } from '../namespaces.js';
import { type NamespacePartitionResult, type ScanPartition, inPartition } from './scan-protocol.js';

/**
 * A worker's share of the namespace inventory. Besides the memberships it reads command and
 * user of the lowest pid of each namespace *within its share*: the global lowest pid is one of
 * those, so the merge needs no second round trip, and only a handful of processes are read
 * beyond their ns links.
 */
export function scanNamespacePartition(
  procRoot: string,
  passwdPath: string,
  partition: ScanPartition,
): NamespacePartitionResult {
  const table = scanNamespaceMemberships({ procRoot, includePid: (pid) => inPartition(pid, partition) });
  const holders = readNamespaceHolders(tallyNamespaces(table), procRoot, passwdPath);
  return { kind: 'namespaces', table, holders };
}
