import type { CgroupMembership } from '../procfs/cgroup.js';

/*
 * Containers recognised by their cgroup path alone, without asking any runtime's API.
 * Every mainstream runtime writes its container's id (or name) into the cgroup it makes:
 *
 *   docker          /docker/<id>                       cgroupfs driver
 *                   /system.slice/docker-<id>.scope     systemd driver (also inside a kubepods pod slice)
 *   containerd      /kubepods[/<qos>]/pod<uid>/<id>     kubelet, cgroupfs driver (docker via dockershim looks
 *                                                       the same: a bare id under a pod says "CRI", not which one)
 *                   .../kubepods-<qos>-pod<uid>.slice/cri-containerd-<id>.scope   kubelet, systemd driver
 *                   /k8s.io/<id>, /default/<id>         containerd namespaces (CRI, ctr) at the root
 *   cri-o           .../crio-<id>.scope, .../crio-<id>  (crio-conmon-<id> is its monitor: not a container)
 *   podman          .../libpod-<id>.scope               systemd driver, rootful and rootless
 *                   /libpod_parent/libpod-<id>          cgroupfs driver
 *                   .../<unit>.service/libpod-payload-<id>   --cgroups=split (quadlet); conmon sits in "runtime"
 *                   (libpod-conmon-<id>.scope is conmon: not a container)
 *   lxc             /lxc.payload.<name>                 LXC 4+; /lxc.monitor.<name> is the monitor: not a container
 *                   /lxc/<name>, /lxc.payload/<name>     LXC 1-3, Proxmox (whose monitor is /lxc.monitor/<name>)
 *   systemd-nspawn  .../machine-<name>.scope            name systemd-escaped (foo\x2dbar = foo-bar);
 *                   .../systemd-nspawn@<name>.service   machinectl start; with "payload" and "supervisor"
 *                                                       children the supervisor is nspawn itself: not a container
 *   libvirt-lxc     .../machine-lxc\x2d<pid>\x2d<name>.scope (machine-qemu\x2d<n>\x2d<name>.scope is a VM: ignored)
 *   nsgate          /nsgate[...]/…/sandboxes/<id>      nsgate's own sandboxes (under NSGATE_INTERNAL_CGROUP)
 *   unknown         a bare 64-hex segment anywhere else (e.g. docker run --cgroup-parent=/x)
 *
 * A container may make cgroups of its own below the one the runtime gave it (systemd inside,
 * LXC's "ns" subtree, nested engines). The path is read from its deepest segment up, and the
 * first segment that names a container wins: a docker container inside an LXC container is the
 * docker one. `cgroupPath` is the container's own cgroup: the path down to that segment.
 */

export type ContainerRuntime =
  | 'docker'
  | 'containerd'
  | 'cri-o'
  | 'podman'
  | 'lxc'
  | 'systemd-nspawn'
  | 'libvirt-lxc'
  | 'nsgate'
  | 'unknown';

export interface RecognisedContainer {
  runtime: ContainerRuntime;
  /** The 64-hex id for OCI runtimes; the name for LXC, systemd-nspawn and nsgate sandboxes. */
  id: string;
  /** Runtimes that know containers by name (LXC, systemd-nspawn, libvirt-lxc, nsgate) say it here too. */
  name?: string;
  /** The Kubernetes pod's uid (with dashes), when the path runs through a kubelet pod cgroup. */
  podUid?: string;
  /** The container's own cgroup: the path down to the segment that names it. */
  cgroupPath: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
const POD_CGROUPFS = /^pod([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const POD_SLICE = /^kubepods(?:-[a-z]+)?-pod([0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12})\.slice$/;
const SCOPE_PREFIXES: ReadonlyArray<[RegExp, ContainerRuntime]> = [
  [/^docker-([0-9a-f]{64})\.scope$/, 'docker'],
  [/^cri-containerd-([0-9a-f]{64})\.scope$/, 'containerd'],
  [/^crio-([0-9a-f]{64})(?:\.scope)?$/, 'cri-o'],
  [/^libpod-([0-9a-f]{64})(?:\.scope)?$/, 'podman'],
  [/^libpod-payload-([0-9a-f]{64})$/, 'podman'],
];
/** Runtime folders whose direct children are bare ids. */
const ID_PARENTS: ReadonlyMap<string, ContainerRuntime> = new Map([
  ['docker', 'docker'],
  ['k8s.io', 'containerd'],
]);
const MACHINE_SCOPE = /^machine-(.+)\.scope$/;
const NSPAWN_SERVICE = /^systemd-nspawn@(.+)\.service$/;
const LIBVIRT_LXC = /^lxc-\d+-(.+)$/;
const LIBVIRT_QEMU = /^qemu-\d+-/;
const SANDBOX_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** systemd's unit name escaping: "\x2d" is "-" (a "-" in a name would otherwise mean "/"). */
export function unescapeSystemdName(name: string): string {
  if (!name.includes('\\x')) return name;
  const bytes: number[] = [];
  for (let i = 0; i < name.length; ) {
    const m = /^\\x([0-9a-fA-F]{2})/.exec(name.slice(i, i + 4));
    if (m) {
      bytes.push(parseInt(m[1]!, 16));
      i += 4;
    } else {
      const cp = name.codePointAt(i)!;
      bytes.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
      i += cp > 0xffff ? 2 : 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function podUidOf(segments: readonly string[], end: number): string | undefined {
  for (let i = end - 1; i >= 0; i--) {
    const seg = segments[i]!;
    const cgroupfs = POD_CGROUPFS.exec(seg);
    if (cgroupfs) return cgroupfs[1];
    const slice = POD_SLICE.exec(seg);
    if (slice) return slice[1]!.replaceAll('_', '-');
  }
  return undefined;
}

function underKubepods(segments: readonly string[], end: number): boolean {
  return segments.slice(0, end).some((s) => s === 'kubepods' || s === 'kubepods.slice');
}

type SegmentVerdict =
  | { kind: 'container'; runtime: ContainerRuntime; id: string; name?: string }
  /** Runtime plumbing (nspawn's supervisor): not a container, and neither is the `skip` segments above it. */
  | { kind: 'plumbing'; skip: number }
  | undefined;

function judgeSegment(segments: readonly string[], i: number): SegmentVerdict {
  const seg = segments[i]!;
  const parent = i > 0 ? segments[i - 1]! : undefined;

  for (const [pattern, runtime] of SCOPE_PREFIXES) {
    const m = pattern.exec(seg);
    if (m) return { kind: 'container', runtime, id: m[1]! };
  }

  if (HEX64.test(seg)) {
    if (parent !== undefined && ID_PARENTS.has(parent)) return { kind: 'container', runtime: ID_PARENTS.get(parent)!, id: seg };
    if (parent === 'default' && i === 1) return { kind: 'container', runtime: 'containerd', id: seg };
    if (parent !== undefined && POD_CGROUPFS.test(parent) && underKubepods(segments, i)) {
      return { kind: 'container', runtime: 'containerd', id: seg };
    }
    return { kind: 'container', runtime: 'unknown', id: seg };
  }

  if (seg.startsWith('lxc.payload.') && seg.length > 'lxc.payload.'.length) {
    const name = seg.slice('lxc.payload.'.length);
    return { kind: 'container', runtime: 'lxc', id: name, name };
  }
  if ((parent === 'lxc' || parent === 'lxc.payload') && i === 1) return { kind: 'container', runtime: 'lxc', id: seg, name: seg };

  const machine = MACHINE_SCOPE.exec(seg);
  if (machine) {
    const name = unescapeSystemdName(machine[1]!);
    if (LIBVIRT_QEMU.test(name)) return undefined; // a virtual machine: its qemu process is a host process
    const lxc = LIBVIRT_LXC.exec(name);
    if (lxc) return { kind: 'container', runtime: 'libvirt-lxc', id: lxc[1]!, name: lxc[1]! };
    return { kind: 'container', runtime: 'systemd-nspawn', id: name, name };
  }
  const nspawn = NSPAWN_SERVICE.exec(seg);
  if (nspawn) {
    const name = unescapeSystemdName(nspawn[1]!);
    return { kind: 'container', runtime: 'systemd-nspawn', id: name, name };
  }
  if (seg === 'supervisor' && parent !== undefined && (MACHINE_SCOPE.test(parent) || NSPAWN_SERVICE.test(parent))) {
    return { kind: 'plumbing', skip: 1 };
  }

  if (i >= 2 && segments[0]!.startsWith('nsgate') && parent === 'sandboxes' && SANDBOX_ID.test(seg)) {
    return { kind: 'container', runtime: 'nsgate', id: seg, name: seg };
  }
  return undefined;
}

/**
 * The container a cgroup path belongs to, or null for host cgroups, runtime plumbing
 * (monitors, conmon, nspawn's supervisor) and virtual machines.
 */
export function recogniseCgroupPath(path: string): RecognisedContainer | null {
  const segments = path.split('/').filter((s) => s !== '');
  for (let i = segments.length - 1; i >= 0; i--) {
    const verdict = judgeSegment(segments, i);
    if (!verdict) continue;
    if (verdict.kind === 'plumbing') {
      i -= verdict.skip;
      continue;
    }
    const found: RecognisedContainer = {
      runtime: verdict.runtime,
      id: verdict.id,
      cgroupPath: '/' + segments.slice(0, i + 1).join('/'),
    };
    if (verdict.name !== undefined) found.name = verdict.name;
    const podUid = verdict.runtime === 'nsgate' ? undefined : podUidOf(segments, i);
    if (podUid !== undefined) found.podUid = podUid;
    return found;
  }
  return null;
}

/** The order hierarchies are asked in: the unified tree, then v1 controllers, then named (name=systemd) ones. */
function hierarchyRank(m: CgroupMembership): number {
  if (m.hierarchyId === 0 && m.controllers.length === 0) return 0;
  if (m.controllers.some((c) => c.startsWith('name='))) return 2;
  return 1;
}

/**
 * The container a process is in, from its /proc/PID/cgroup lines. Runtimes put a container at
 * the same path in every hierarchy; where they differ, the unified line is asked first, then
 * the controller hierarchies, then named ones such as name=systemd.
 */
export function recogniseMemberships(memberships: readonly CgroupMembership[]): RecognisedContainer | null {
  const ordered = [...memberships].sort((a, b) => hierarchyRank(a) - hierarchyRank(b));
  for (const m of ordered) {
    const found = recogniseCgroupPath(m.path);
    if (found) return found;
  }
  return null;
}

/** What grouping needs of a process; the scanner's ProcessRecord has it. */
export interface ProcessCgroups {
  pid: number;
  ppid: number;
  cgroups: readonly CgroupMembership[];
}

export interface ContainerGroup extends RecognisedContainer {
  /**
   * The container's first process: of those whose parent is outside the container, the
   * lowest pid (the shim, conmon or lxc-start is the parent and lives outside).
   */
  initPid: number;
  /** Every process of the container, ascending. */
  pids: number[];
}

/** The processes grouped into the containers their cgroup paths name, ordered by init pid. */
export function groupProcessesByContainer(processes: Iterable<ProcessCgroups>): ContainerGroup[] {
  const groups = new Map<string, { container: RecognisedContainer; members: ProcessCgroups[] }>();
  for (const p of processes) {
    const container = recogniseMemberships(p.cgroups);
    if (!container) continue;
    const key = `${container.runtime}\0${container.id}`;
    const group = groups.get(key);
    if (group) group.members.push(p);
    else groups.set(key, { container, members: [p] });
  }
  const result: ContainerGroup[] = [];
  for (const { container, members } of groups.values()) {
    const pids = members.map((m) => m.pid).sort((a, b) => a - b);
    const inside = new Set(pids);
    const roots = members.filter((m) => !inside.has(m.ppid)).map((m) => m.pid);
    // Every member's parent inside is impossible for a tree; keep the lowest pid as a fallback.
    const initPid = roots.length ? Math.min(...roots) : pids[0]!;
    result.push({ ...container, initPid, pids });
  }
  return result.sort((a, b) => a.initPid - b.initPid);
}
