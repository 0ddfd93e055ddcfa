import { closeSync, openSync, readlinkSync, readSync } from 'node:fs';
import { isErrno } from './errors.js';
import { listPids } from './procfs/pids.js';
import { NAMESPACE_TYPES, type NamespaceType } from './procfs/namespace-types.js';
import { DEFAULT_PROC_ROOT, translateProcError } from './procfs/proc-file.js';
import { readProcessOwner } from './procfs/owner.js';
import { DEFAULT_PASSWD_PATH, readUserNames, userNameOf } from './procfs/user-names.js';

/** One line of `lsns`: a namespace, how many processes are in it and the lowest of them. */
export interface NamespaceEntry {
  type: NamespaceType;
  /** Decimal string: inodes are 64-bit-safe in the API. */
  inode: string;
  processCount: number;
  /** The lowest pid in the namespace. */
  pid: number;
  /** That process's command line as lsns shows it (see lsnsCommand); '' if it exited meanwhile. */
  command: string;
  /** The owner of /proc/PID of that process, as a name; null if it exited before it was read. */
  user: string | null;
  uid: number | null;
}

/** No readable link for this (process, type) slot. */
export const NO_NAMESPACE = 0xffffffff;

const TYPE_COUNT = NAMESPACE_TYPES.length;

/**
 * Which process is in which namespace, compact enough to cross a worker boundary as two
 * transferable arrays: slot pidIndex*8+t holds an index into `inodes` for type
 * NAMESPACE_TYPES[t], or NO_NAMESPACE.
 */
export interface NamespaceMembershipTable {
  pids: Int32Array;
  slots: Uint32Array;
  inodes: string[];
}

export interface NamespaceScanOptions {
  procRoot?: string;
  /** Only pids for which this returns true are read (a scan split across workers). */
  includePid?: (pid: number) => boolean;
}

/**
 * Reads the eight ns links of every process, the membership lsns uses: a process counts in a
 * namespace when its /proc/PID/ns/TYPE link is readable. Links that fail with EACCES (a process
 * we may not ptrace) or ENOENT (a zombie's nsproxy namespaces, a process that just exited) are
 * skipped, as lsns skips them. Threads other than the leader are not walked; lsns does not walk
 * them either. One readlink per link: the cheapest call the kernel offers for this (stat(2)
 * through the link, as lsns does, costs more), and this loop is the whole cost of the inventory.
 */
export function scanNamespaceMemberships(options: NamespaceScanOptions = {}): NamespaceMembershipTable {
  const procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
  const pids = listPids(procRoot).filter(options.includePid ?? (() => true));
  const keptPids = new Int32Array(pids.length);
  const slots = new Uint32Array(pids.length * TYPE_COUNT);
  const inodes: string[] = [];
  const inodeIndex = new Map<string, number>();
  let kept = 0;
  for (const pid of pids) {
    const base = `${procRoot}/${pid}/ns/`;
    const first = kept * TYPE_COUNT;
    let readable = 0;
    for (let t = 0; t < TYPE_COUNT; t++) {
      let target: string;
      try {
        target = readlinkSync(base + NAMESPACE_TYPES[t]);
      } catch (err) {
        if (isErrno(err, 'EACCES', 'ENOENT', 'ESRCH')) {
          slots[first + t] = NO_NAMESPACE;
          continue;
        }
        throw translateProcError(err, pid, `ns/${NAMESPACE_TYPES[t]}`);
      }
      let index = inodeIndex.get(target);
      if (index === undefined) {
        index = inodes.length;
        inodes.push(target.slice(target.indexOf('[') + 1, -1));
        inodeIndex.set(target, index);
      }
      slots[first + t] = index;
      readable++;
    }
    if (readable > 0) keptPids[kept++] = pid;
  }
  return { pids: keptPids.slice(0, kept), slots: slots.slice(0, kept * TYPE_COUNT), inodes };
}

/** Joins the tables of a scan split across workers into one. */
export function mergeMembershipTables(tables: readonly NamespaceMembershipTable[]): NamespaceMembershipTable {
  if (tables.length === 1) return tables[0]!;
  const total = tables.reduce((sum, table) => sum + table.pids.length, 0);
  const pids = new Int32Array(total);
  const slots = new Uint32Array(total * TYPE_COUNT);
  const inodes: string[] = [];
  const inodeIndex = new Map<string, number>();
  let offset = 0;
  for (const table of tables) {
    const remap = table.inodes.map((inode) => {
      let index = inodeIndex.get(inode);
      if (index === undefined) {
        index = inodes.length;
        inodes.push(inode);
        inodeIndex.set(inode, index);
      }
      return index;
    });
    pids.set(table.pids, offset);
    for (let i = 0; i < table.slots.length; i++) {
      const slot = table.slots[i]!;
      slots[offset * TYPE_COUNT + i] = slot === NO_NAMESPACE ? NO_NAMESPACE : remap[slot]!;
    }
    offset += table.pids.length;
  }
  return { pids, slots, inodes };
}

/** A namespace before its lowest process's command and user are read. */
export interface NamespaceTally {
  type: NamespaceType;
  inode: string;
  processCount: number;
  pid: number;
}

/** Decimal strings without leading zeros: shorter is smaller, same length compares as text. */
export function compareInodes(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** Counts processes per namespace and finds the lowest pid of each; sorted by inode like lsns. */
export function tallyNamespaces(table: NamespaceMembershipTable): NamespaceTally[] {
  const count = new Uint32Array(table.inodes.length);
  const lowest = new Int32Array(table.inodes.length).fill(0x7fffffff);
  const typeOf = new Uint8Array(table.inodes.length);
  for (let p = 0; p < table.pids.length; p++) {
    const pid = table.pids[p]!;
    for (let t = 0; t < TYPE_COUNT; t++) {
      const slot = table.slots[p * TYPE_COUNT + t]!;
      if (slot === NO_NAMESPACE) continue;
      count[slot]!++;
      typeOf[slot] = t;
      if (pid < lowest[slot]!) lowest[slot] = pid;
    }
  }
  const tallies: NamespaceTally[] = [];
  for (let i = 0; i < table.inodes.length; i++) {
    if (count[i] === 0) continue;
    tallies.push({
      type: NAMESPACE_TYPES[typeOf[i]!]!,
      inode: table.inodes[i]!,
      processCount: count[i]!,
      pid: lowest[i]!,
    });
  }
  return tallies.sort((a, b) => compareInodes(a.inode, b.inode));
}

/** The pids in one namespace, ascending. */
export function membersOf(table: NamespaceMembershipTable, type: NamespaceType, inode: string): number[] {
  const t = NAMESPACE_TYPES.indexOf(type);
  const index = table.inodes.indexOf(inode);
  if (index < 0) return [];
  const pids: number[] = [];
  for (let p = 0; p < table.pids.length; p++) {
    if (table.slots[p * TYPE_COUNT + t] === index) pids.push(table.pids[p]!);
  }
  return pids.sort((a, b) => a - b);
}

/** lsns reads at most BUFSIZ bytes of the command line. */
const LSNS_COMMAND_BYTES = 8192;

function readHead(path: string, limit: number): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const buffer = Buffer.allocUnsafe(limit);
    let length = 0;
    while (length < limit) {
      const n = readSync(fd, buffer, length, limit - length, null);
      if (n === 0) break;
      length += n;
    }
    return buffer.subarray(0, length);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * What lsns prints as COMMAND: the first 8 KiB of cmdline with every NUL turned into a space
 * and the last byte dropped (normally the final NUL); for an empty cmdline (kernel threads,
 * zombies), comm the same way (dropping its newline). '' if neither can be read.
 */
export function lsnsCommand(pid: number, procRoot: string = DEFAULT_PROC_ROOT): string {
  for (const file of ['cmdline', 'comm']) {
    const head = readHead(`${procRoot}/${pid}/${file}`, LSNS_COMMAND_BYTES);
    if (head && head.length > 0) {
      for (let i = 0; i < head.length; i++) if (head[i] === 0) head[i] = 0x20;
      return head.subarray(0, head.length - 1).toString('utf8');
    }
  }
  return '';
}

/** The parts of an inventory line read only for the lowest pid of each namespace. */
export interface NamespaceHolder {
  pid: number;
  command: string;
  uid: number | null;
  user: string | null;
}

export function readNamespaceHolder(
  pid: number,
  procRoot: string,
  userNames: ReadonlyMap<number, string>,
): NamespaceHolder {
  let uid: number | null = null;
  try {
    uid = readProcessOwner(pid, { procRoot }).uid;
  } catch {
    // Exited since the links were read: it still was the lowest pid, only its owner is unknown.
  }
  return { pid, command: lsnsCommand(pid, procRoot), uid, user: uid === null ? null : userNameOf(userNames, uid) };
}

/** The lowest pids of a table's namespaces, each once, with their command and user. */
export function readNamespaceHolders(
  tallies: readonly NamespaceTally[],
  procRoot: string,
  passwdPath: string = DEFAULT_PASSWD_PATH,
): NamespaceHolder[] {
  const userNames = readUserNames(passwdPath);
  const pids = [...new Set(tallies.map((tally) => tally.pid))];
  return pids.map((pid) => readNamespaceHolder(pid, procRoot, userNames));
}

/** Puts tallies and holders together into lsns's lines. */
export function buildNamespaceInventory(
  tallies: readonly NamespaceTally[],
  holders: Iterable<NamespaceHolder>,
): NamespaceEntry[] {
  const byPid = new Map<number, NamespaceHolder>();
  for (const holder of holders) byPid.set(holder.pid, holder);
  return tallies.map((tally) => {
    const holder = byPid.get(tally.pid);
    return {
      ...tally,
      command: holder?.command ?? '',
      uid: holder?.uid ?? null,
      user: holder?.user ?? null,
    };
  });
}

export interface NamespaceInventoryOptions {
  procRoot?: string;
  passwdPath?: string;
}

/** The whole lsns inventory, synchronously on the calling thread (ProcessScanner runs it off it). */
export function readNamespaceInventory(options: NamespaceInventoryOptions = {}): NamespaceEntry[] {
  const procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
  const tallies = tallyNamespaces(scanNamespaceMemberships({ procRoot }));
  return buildNamespaceInventory(tallies, readNamespaceHolders(tallies, procRoot, options.passwdPath));
}
