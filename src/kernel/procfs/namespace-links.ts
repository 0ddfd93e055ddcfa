import { readlinkSync } from 'node:fs';
import { isErrno } from '../errors.js';
import { NAMESPACE_TYPES, type NamespaceType } from './namespace-types.js';
import { type ProcOptions, processDir, processExists, processGone, procRootOf, translateProcError } from './proc-file.js';

/**
 * A namespace's inode as a decimal string: the API promises 64-bit-safe inodes, so they
 * never pass through a JS number. null where the link cannot be read.
 */
export type NamespaceInodes = Record<NamespaceType, string | null>;

const LINK = /^([a-z_]+):\[(\d+)\]$/;

/** 'net:[4026531840]' -> { type: 'net', inode: '4026531840' }; null for anything else. */
export function parseNamespaceLink(target: string): { type: string; inode: string } | null {
  const match = LINK.exec(target);
  return match ? { type: match[1]!, inode: match[2]! } : null;
}

/**
 * One link, or null when the kernel will not say: EACCES for a process we may not ptrace
 * (pid 1 of an outer sandbox), ENOENT for the nsproxy namespaces of a zombie (only its pid and
 * user links stay readable). lsns skips the same two cases. The caller tells a zombie from a
 * vanished process.
 */
export function readNamespaceInode(procRoot: string, pid: number, type: NamespaceType): string | null {
  return readLinkIn(`${processDir(procRoot, pid)}/ns/`, pid, type);
}

/** readNamespaceInode with the ns directory's path already built: lists call this per link. */
function readLinkIn(nsDir: string, pid: number, type: NamespaceType): string | null {
  let target: string;
  try {
    target = readlinkSync(nsDir + type);
  } catch (err) {
    if (isErrno(err, 'EACCES', 'ENOENT')) return null;
    throw translateProcError(err, pid, `ns/${type}`);
  }
  return parseNamespaceLink(target)?.inode ?? null;
}

/** All eight links of one process; PROCESS_NOT_FOUND only if the process itself is gone. */
export function readNamespaceInodes(pid: number, options?: ProcOptions): NamespaceInodes {
  const procRoot = procRootOf(options);
  const nsDir = `${processDir(procRoot, pid)}/ns/`;
  const inodes = {} as NamespaceInodes;
  let unreadable = 0;
  for (const type of NAMESPACE_TYPES) {
    const inode = readLinkIn(nsDir, pid, type);
    inodes[type] = inode;
    if (inode === null) unreadable++;
  }
  if (unreadable === NAMESPACE_TYPES.length && !processExists(procRoot, pid)) throw processGone(pid);
  return inodes;
}
