import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCapabilities, formatCapabilityMask, parseCapabilityMask } from './capabilities.js';
import { NsgateError } from './errors.js';
import { readProcessLsmLabels } from './procfs/lsm-label.js';
import { parseNamespaceLink, readNamespaceInodes, type NamespaceInodes } from './procfs/namespace-links.js';
import { NAMESPACE_TYPES, type NamespaceType } from './procfs/namespace-types.js';
import { assertPid, readProcText } from './procfs/proc-file.js';
import { readProcessStatus, type CapabilitySets, type IdSet } from './procfs/status.js';

export const DEFAULT_LSM_LIST_PATH = '/sys/kernel/security/lsm';

export type SeccompModeName = 'disabled' | 'strict' | 'filter';

export interface SeccompState {
  /** 0 disabled, 1 strict, 2 filter (the `Seccomp:` line of /proc/PID/status). */
  mode: 0 | 1 | 2;
  modeName: SeccompModeName;
  /** How many filters are attached (`Seccomp_filters:`, Linux 5.9+); null where the kernel does not say. */
  filters: number | null;
}

export interface CapabilitySet {
  /** 16 hex digits, as /proc/PID/status prints them. */
  hex: string;
  /** What `capsh --decode=<hex>` prints, as a list. */
  names: string[];
}

export interface CapabilityState {
  inheritable: CapabilitySet;
  permitted: CapabilitySet;
  effective: CapabilitySet;
  bounding: CapabilitySet;
  ambient: CapabilitySet;
}

export type LsmName = 'apparmor' | 'selinux' | 'smack';

export interface LsmState {
  name: LsmName;
  /** The AppArmor profile with its mode ("docker-default (enforce)", "unconfined") or the SELinux context. */
  label: string;
}

/** One line of /proc/PID/uid_map or gid_map: `count` ids from `inside` map to `outside`. */
export interface IdMapping {
  inside: number;
  outside: number;
  count: number;
}

export interface UserNamespaceState {
  /** The user namespace's inode, decimal; null where the link cannot be read (a zombie, an unptraceable process). */
  inode: string | null;
  /** As the reader (the host) sees it: `outside` ids are ids of the reader's user namespace. */
  uidMap: IdMapping[];
  gidMap: IdMapping[];
  /** uid 0 inside maps to uid 0 outside: root in here is root on the host. */
  rootIsHostRoot: boolean;
}

export interface ProcessSecurity {
  pid: number;
  seccomp: SeccompState;
  noNewPrivs: boolean;
  capabilities: CapabilityState;
  /** The LSM confining the process and its label; null where the kernel runs no labelling LSM. */
  lsm: LsmState | null;
  /** The process's credentials (real, effective, saved, filesystem), as the host sees them. */
  uid: IdSet;
  gid: IdSet;
  userNamespace: UserNamespaceState;
  /**
   * Per namespace type: is the process in the host's namespace? true/false, or null where
   * it cannot be told (the process's link or the reference is unreadable).
   */
  hostNamespaces: Record<NamespaceType, boolean | null>;
}

export interface SecurityReadOptions {
  /** securityfs's list of active LSMs; tests point it at a fixture file. */
  lsmListPath?: string;
  /** The process whose namespaces are "the host's"; default 1. */
  hostPid?: number;
}

const SECCOMP_MODE_NAMES: readonly SeccompModeName[] = ['disabled', 'strict', 'filter'];

/**
 * The inodes the kernel gives its initial namespaces (include/linux/proc_ns.h): fixed since
 * 3.8 for ipc, uts, user and pid, since their introduction for cgroup and time. net and mnt
 * got fixed numbers only in recent kernels (6.x); before that theirs are allocated like
 * any other namespace's, so a mismatch there proves nothing unless the kernel is known to
 * use the fixed number (see initialInodesAreFixed).
 */
const INITIAL_NAMESPACE_INODES: Record<NamespaceType, string> = {
  ipc: String(0xefffffff),
  uts: String(0xeffffffe),
  user: String(0xeffffffd),
  pid: String(0xeffffffc),
  cgroup: String(0xeffffffb),
  time: String(0xeffffffa),
  net: String(0xeffffff9),
  mnt: String(0xeffffff8),
};
const LATE_FIXED_TYPES: ReadonlySet<NamespaceType> = new Set(['net', 'mnt']);

/**
 * What is in force for one process: seccomp, no_new_privs, the five capability sets, the
 * LSM label, its user namespace and which of its namespaces are the host's. Reads
 * /proc/PID/{status,ns/*,uid_map,gid_map,attr/...}; PROCESS_NOT_FOUND if the process does
 * not exist or exits while it is read. Nothing else about a live process makes it fail:
 * what the kernel will not tell (no LSM: EINVAL; an unptraceable pid: EACCES on ns links)
 * comes back as null.
 */
export function readProcessSecurity(procRoot: string, pid: number, options: SecurityReadOptions = {}): ProcessSecurity {
  assertPid(pid);
  const proc = { procRoot };
  const status = readProcessStatus(pid, proc);
  const namespaces = readNamespaceInodes(pid, proc);
  const uidMap = parseIdMap(readProcText(procRoot, pid, 'uid_map'));
  const gidMap = parseIdMap(readProcText(procRoot, pid, 'gid_map'));
  const lsm = readLsm(procRoot, pid, options.lsmListPath ?? DEFAULT_LSM_LIST_PATH);
  const reference = readReferenceNamespaces(procRoot, options.hostPid ?? 1, pid, namespaces);

  return {
    pid,
    seccomp: seccompState(status.seccomp, status.seccompFilters),
    // The NoNewPrivs line exists since 4.10; nsgate targets 6.x kernels, where a missing line cannot occur.
    noNewPrivs: status.noNewPrivs === true,
    capabilities: capabilityState(status.capabilities),
    lsm,
    uid: status.uid,
    gid: status.gid,
    userNamespace: {
      inode: namespaces.user,
      uidMap,
      gidMap,
      rootIsHostRoot: mapsRootToRoot(uidMap),
    },
    hostNamespaces: compareNamespaces(namespaces, reference),
  };
}

export function seccompState(mode: number | null, filters: number | null): SeccompState {
  // No Seccomp line: a kernel built without CONFIG_SECCOMP, where nothing can be filtered.
  const m = mode === 1 || mode === 2 ? mode : 0;
  return { mode: m, modeName: SECCOMP_MODE_NAMES[m]!, filters: filters ?? null };
}

function capabilitySet(hex: string): CapabilitySet {
  // CapAmb is missing before 4.3: no ambient set means an empty one.
  const mask = hex === '' ? 0n : parseCapabilityMask(hex);
  const formatted = formatCapabilityMask(mask);
  return { hex: formatted, names: decodeCapabilities(formatted) };
}

export function capabilityState(sets: CapabilitySets): CapabilityState {
  return {
    inheritable: capabilitySet(sets.inheritable),
    permitted: capabilitySet(sets.permitted),
    effective: capabilitySet(sets.effective),
    bounding: capabilitySet(sets.bounding),
    ambient: capabilitySet(sets.ambient),
  };
}

/** uid_map/gid_map: "inside outside count" per line, columns padded with spaces. */
export function parseIdMap(text: string): IdMapping[] {
  const mappings: IdMapping[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length !== 3) continue;
    const [inside, outside, count] = fields.map(Number) as [number, number, number];
    if ([inside, outside, count].every(Number.isSafeInteger)) mappings.push({ inside, outside, count });
  }
  return mappings;
}

/** Whether id 0 inside lands on id 0 outside; an unmapped 0 (an empty map) is nobody outside. */
export function mapsRootToRoot(map: readonly IdMapping[]): boolean {
  return map.some((m) => m.inside === 0 && m.count > 0 && m.outside === 0);
}

/** securityfs's comma list ("lockdown,capability,yama,apparmor"); null where it cannot be read. */
export function readLsmList(lsmListPath: string): string[] | null {
  try {
    return readFileSync(lsmListPath, 'utf8')
      .trim()
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  } catch {
    return null;
  }
}

const SELINUX_CONTEXT = /^[^:\s]+:[^:\s]+:[^:\s]+(?::\S+)?$/;

/**
 * Which labelling LSM wrote attr/current. The LSM list says it where securityfs is mounted;
 * where it is not, the label's shape does (an SELinux context is user:role:type[:level],
 * while attr/current was AppArmor's interface before attr/apparmor/ existed).
 */
export function lsmOfCurrentLabel(label: string, lsms: readonly string[] | null): LsmName {
  for (const name of ['selinux', 'apparmor', 'smack'] as const) if (lsms?.includes(name)) return name;
  return SELINUX_CONTEXT.test(label) ? 'selinux' : 'apparmor';
}

function readLsm(procRoot: string, pid: number, lsmListPath: string): LsmState | null {
  let labels: { current: string | null; apparmor: string | null };
  try {
    labels = readProcessLsmLabels(pid, { procRoot });
  } catch (err) {
    // An LSM may refuse to show a label (EACCES from SELinux's getattr check): report no
    // label rather than fail the whole posture. A vanished process still fails.
    if (err instanceof NsgateError && err.code === 'PROCESS_NOT_FOUND') throw err;
    return null;
  }
  if (labels.apparmor !== null) return { name: 'apparmor', label: labels.apparmor };
  if (labels.current !== null) return { name: lsmOfCurrentLabel(labels.current, readLsmList(lsmListPath)), label: labels.current };
  return null;
}

interface ReferenceNamespaces {
  /** The reference process's inodes (null per type where unreadable). */
  inodes: NamespaceInodes | null;
  /** Per late-fixed type: does this kernel give its initial namespace the fixed inode? */
  fixed: Partial<Record<NamespaceType, boolean>>;
}

function readReferenceNamespaces(procRoot: string, hostPid: number, pid: number, target: NamespaceInodes): ReferenceNamespaces {
  let inodes: NamespaceInodes | null = null;
  if (hostPid === pid) {
    inodes = target;
  } else {
    try {
      inodes = readNamespaceInodes(hostPid, { procRoot });
    } catch {
      inodes = null; // no pid 1 here (a fixture tree, a private pid namespace): fall back as below
    }
  }
  // Evidence that net/mnt use the fixed initial inodes on this kernel: some process we can
  // read (the target, the reference, or the reader itself) sits in a namespace with that inode.
  const fixed: Partial<Record<NamespaceType, boolean>> = {};
  for (const type of LATE_FIXED_TYPES) {
    const initial = INITIAL_NAMESPACE_INODES[type];
    fixed[type] = target[type] === initial || inodes?.[type] === initial || readSelfInode(procRoot, type) === initial;
  }
  return { inodes, fixed };
}

function readSelfInode(procRoot: string, type: NamespaceType): string | null {
  try {
    return parseNamespaceLink(readlinkSync(join(procRoot, 'self', 'ns', type)))?.inode ?? null;
  } catch {
    return null;
  }
}

/**
 * "The host's namespace" is pid 1's. Where pid 1's link cannot be read (it runs outside our
 * ptrace reach, as in a sandboxed session) the kernel's initial namespace stands in for
 * it, known by its fixed inode.
 */
function compareNamespaces(target: NamespaceInodes, reference: ReferenceNamespaces): Record<NamespaceType, boolean | null> {
  const result = {} as Record<NamespaceType, boolean | null>;
  for (const type of NAMESPACE_TYPES) {
    const inode = target[type];
    const ref = reference.inodes?.[type] ?? null;
    if (inode === null) result[type] = null;
    else if (ref !== null) result[type] = inode === ref;
    else if (inode === INITIAL_NAMESPACE_INODES[type]) result[type] = true;
    else if (!LATE_FIXED_TYPES.has(type) || reference.fixed[type]) result[type] = false;
    else result[type] = null;
  }
  return result;
}
