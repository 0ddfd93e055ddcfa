import type { CgroupMembership } from '../procfs/cgroup.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** How the host mounts cgroups: v2 only, v1 only, or both (systemd's hybrid layout). */
export type CgroupMode = 'v1' | 'v2' | 'hybrid' | 'none';

/** One mounted cgroup hierarchy, as /proc/self/mountinfo describes it. */
export interface CgroupHierarchy {
  version: 1 | 2;
  /** Where it is mounted (octal escapes of mountinfo undone). */
  mountPoint: string;
  /** v1: the controllers bound to it (cpu, memory, ...); v2: [] here (read cgroup.controllers). */
  controllers: string[];
  /** The cgroup of the hierarchy that is mounted here: "/" unless a cgroup namespace or a bind mount narrows it. */
  root: string;
  /** v1 named hierarchies ("name=systemd"): the name; they carry no controller. */
  name?: string;
  /** "major:minor" of the superblock: two mounts with the same one are the same hierarchy. */
  device: string;
}

const V1_NON_CONTROLLER_OPTIONS = new Set(['rw', 'ro', 'noprefix', 'clone_children', 'xattr', 'cpuset_v2_mode', 'favordynmods']);

/** mountinfo escapes space, tab, newline and backslash as \040, \011, \012, \134. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * Every cgroup hierarchy in a mountinfo text, each once: a hierarchy mounted twice (bind
 * mounts, containers) is kept at its first mount with root "/", else its first mount.
 */
export function parseCgroupMounts(mountinfo: string): CgroupHierarchy[] {
  const found: CgroupHierarchy[] = [];
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    if (dash < 6 || fields.length < dash + 4) continue;
    const fsType = fields[dash + 1];
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    const hierarchy: CgroupHierarchy = {
      version: fsType === 'cgroup2' ? 2 : 1,
      mountPoint: unescapeMountField(fields[4]),
      controllers: [],
      root: unescapeMountField(fields[3]),
      device: fields[2],
    };
    if (hierarchy.version === 1) {
      for (const option of fields[dash + 3].split(',')) {
        if (option.startsWith('name=')) hierarchy.name = option.slice('name='.length);
        else if (!option.includes('=') && !V1_NON_CONTROLLER_OPTIONS.has(option) && option !== '') hierarchy.controllers.push(option);
      }
      hierarchy.controllers.sort();
    }
    const same = found.findIndex((h) => h.device === hierarchy.device);
    if (same < 0) found.push(hierarchy);
    else if (found[same].root !== '/' && hierarchy.root === '/') found[same] = hierarchy;
  }
  return found;
}

/** v2: one unified tree and nothing else; v1: only v1 hierarchies; hybrid: both. */
export function cgroupModeOf(hierarchies: readonly Pick<CgroupHierarchy, 'version'>[]): CgroupMode {
  const v1 = hierarchies.some((h) => h.version === 1);
  const v2 = hierarchies.some((h) => h.version === 2);
  if (v1 && v2) return 'hybrid';
  if (v2) return 'v2';
  if (v1) return 'v1';
  return 'none';
}

/** The cgroup hierarchies this process sees. */
export function readCgroupMounts(procRoot = '/proc'): CgroupHierarchy[] {
  return parseCgroupMounts(readFileSync(join(procRoot, 'self', 'mountinfo'), 'utf8'));
}

/** A label for messages and details: "memory", "cpu,cpuacct", "name=systemd", "unified". */
export function hierarchyLabel(h: CgroupHierarchy): string {
  if (h.version === 2) return 'unified';
  if (h.name) return `name=${h.name}`;
  return h.controllers.join(',');
}

/** Whether a /proc/PID/cgroup line is about this hierarchy (v2: id 0; v1: the same controllers, or the same name). */
export function membershipOf(m: CgroupMembership, h: CgroupHierarchy): boolean {
  if (h.version === 2) return m.hierarchyId === 0;
  if (m.hierarchyId === 0) return false;
  if (h.name) return m.controllers.includes(`name=${h.name}`);
  return m.controllers.length === h.controllers.length && [...m.controllers].sort().join(',') === [...h.controllers].sort().join(',');
}
