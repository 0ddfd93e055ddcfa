import { posix } from 'node:path';
import {
  ALL_KNOWN_CAPABILITIES_MASK,
  beyondDockerDefault,
  formatCapabilityMask,
  isFullSet,
  parseCapabilityMask,
} from './capabilities.js';
import type { NamespaceType } from './procfs/namespace-types.js';
import type { ProcessSecurity } from './security.js';

/*
 * Container risk findings: what a container's init process has in force (its posture, read
 * from /proc) plus what the engine says about it (privileged flag, mounts, host namespaces).
 *
 * | id                              | severity            | when                                                        |
 * | ------------------------------- | ------------------- | ----------------------------------------------------------- |
 * | privileged                      | critical            | --privileged, or every capability the engine could give     |
 * | capability:<name>               | per CAPABILITY_RISK | a capability outside Docker's default 14 (not if privileged) |
 * | seccomp_disabled                | high                | Seccomp: 0 (seccomp=unconfined, --privileged)               |
 * | no_new_privs_off                | low; medium if the  | NoNewPrivs: 0 AND execve could still raise privilege: the   |
 * |                                 | bounding set goes   | process is not root (setuid-root binaries would make it     |
 * |                                 | beyond the default  | root) or its bounding set holds capabilities it does not    |
 * |                                 |                     | have. A default root container holds its whole bounding set |
 * |                                 |                     | already, so nothing is left to gain and it gets no finding. |
 * | host_namespace:pid              | high                | sees and signals every host process                         |
 * | host_namespace:net              | high                | the host's interfaces and loopback services (nsgate's too)  |
 * | host_namespace:ipc              | medium              | the host's shared memory and semaphores                     |
 * | host_namespace:uts              | low                 | the host's hostname (changing it needs cap_sys_admin)       |
 * | docker_socket:<destination>     | critical            | the engine socket, or a directory holding it, is mounted    |
 * | root_without_userns             | medium              | runs as uid 0 and that uid 0 is the host's                  |
 * | lsm_unconfined                  | medium              | the host runs AppArmor/SELinux but the process is unconfined |
 * | lsm_complain_mode               | low                 | an AppArmor profile that only logs                          |
 *
 * Two deliberate exclusions keep a default container (mode 2, a80425fb, running as root)
 * down to root_without_userns alone, as issue 6 asks:
 * - no_new_privs: Docker never sets it by default, and for a root process that already holds
 *   its whole bounding set it changes nothing. It is reported where it matters (above).
 * - "no LSM profile" is a finding only where the host has a labelling LSM the container
 *   could have been confined by. On a host without one (this machine: attr/current says
 *   EINVAL) every container would carry it and nothing could fix it per container; the
 *   host's LSM list is reported by /v1/host instead.
 *
 * A process in its own user namespace (rootIsHostRoot false, user namespace not the host's)
 * holds its capabilities only over what that namespace owns: capability and privileged
 * findings drop one severity step there.
 */

/** Bits 0..37, cap_chown through cap_audit_read: every container engine in use knows these. */
const ENGINE_KNOWN_CAPABILITIES = (1n << 38n) - 1n;

export type Severity = 'critical' | 'high' | 'medium' | 'low';

export interface Finding {
  id: string;
  severity: Severity;
  /** One line, for people. */
  reason: string;
}

/** What the findings read from a process's posture (a ProcessSecurity satisfies it). */
export type ContainerPosture = Pick<
  ProcessSecurity,
  'seccomp' | 'noNewPrivs' | 'capabilities' | 'lsm' | 'uid' | 'userNamespace'
> & { hostNamespaces?: Partial<Record<NamespaceType, boolean | null>> };

export interface ContainerFacts {
  /** The engine's HostConfig.Privileged. */
  privileged?: boolean;
  /** Host path (source) mounted at a container path (destination). */
  mounts: { source: string; destination: string }[];
  /** From the engine's config (PidMode "host", NetworkMode "host", ...); true wins over the posture's view. */
  hostNamespaces: Partial<Record<NamespaceType, boolean | null>>;
  /** The engine's Config.User ("", "root", "0:0", "1000"); used only where the posture has no uid. */
  user?: string;
  /** Engine sockets besides /var/run/docker.sock and /run/docker.sock (DOCKER_HOST's path). */
  dockerSockets?: string[];
  /**
   * The most a container can hold here, as hex: the engine's own bounding set. A privileged
   * container gets exactly that, which is less than every known capability where the engine
   * itself runs with a reduced bounding set. Default: every capability the table names.
   */
  engineCapabilities?: string;
  /** The host's active LSMs (/sys/kernel/security/lsm); needed to tell "unconfined" from "no LSM here". */
  hostLsms?: readonly string[] | null;
}

/** How dangerous each capability outside Docker's default set is on its own. */
export const CAPABILITY_RISK: Readonly<Record<string, Severity>> = {
  // mount, namespaces, most known container escapes
  cap_sys_admin: 'critical',
  // load kernel code
  cap_sys_module: 'critical',
  // raw I/O ports, /dev/mem
  cap_sys_rawio: 'critical',
  // open_by_handle_at: read any file of the host filesystem ("shocker")
  cap_dac_read_search: 'critical',
  cap_sys_ptrace: 'high',
  cap_net_admin: 'high',
  cap_bpf: 'high',
  cap_perfmon: 'high',
  // kexec_load is not namespaced
  cap_sys_boot: 'high',
  // the realtime clock is the host's
  cap_sys_time: 'high',
  cap_mac_admin: 'high',
  cap_mac_override: 'high',
  cap_syslog: 'medium',
  cap_linux_immutable: 'medium',
  cap_audit_control: 'medium',
  cap_checkpoint_restore: 'medium',
  cap_sys_resource: 'medium',
  cap_ipc_owner: 'medium',
  cap_sys_nice: 'medium',
  cap_sys_pacct: 'medium',
  cap_net_broadcast: 'low',
  cap_ipc_lock: 'low',
  cap_sys_tty_config: 'low',
  cap_lease: 'low',
  cap_wake_alarm: 'low',
  cap_block_suspend: 'low',
  cap_audit_read: 'low',
};
/** Bits the table does not name: unknown power, so not low. */
const UNKNOWN_CAPABILITY_RISK: Severity = 'medium';

const SEVERITY_ORDER: readonly Severity[] = ['critical', 'high', 'medium', 'low'];
const NAMESPACE_RISK: readonly [NamespaceType, Severity, string][] = [
  ['pid', 'high', 'shares the host’s pid namespace: sees and can signal every host process'],
  ['net', 'high', 'shares the host’s network namespace: its interfaces and every loopback service'],
  ['ipc', 'medium', 'shares the host’s IPC namespace: its shared memory, semaphores and message queues'],
  ['uts', 'low', 'shares the host’s UTS namespace: its hostname and domain name'],
];
export const DOCKER_SOCKET_PATHS: readonly string[] = ['/var/run/docker.sock', '/run/docker.sock'];
const UNCONFINED_SELINUX_TYPES = new Set(['unconfined_t', 'spc_t', 'kernel_t', 'unconfined_service_t']);
const LABELLING_LSMS = ['apparmor', 'selinux', 'smack'];

function lower(severity: Severity): Severity {
  return SEVERITY_ORDER[Math.min(SEVERITY_ORDER.indexOf(severity) + 1, SEVERITY_ORDER.length - 1)]!;
}

function mask(hex: string): bigint {
  return parseCapabilityMask(hex);
}

/** Config.User names root: empty (the image default, root for nearly all), "root", "0", "root:x", "0:x". */
function userIsRoot(user: string | undefined): boolean {
  const name = (user ?? '').split(':')[0]!.trim();
  return name === '' || name === 'root' || name === '0';
}

function normalize(path: string): string {
  const p = posix.normalize(path);
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

/** The mount exposes a socket: it is the socket, a directory above it, or mounted where Docker's socket lives. */
function exposesSocket(mount: { source: string; destination: string }, sockets: readonly string[]): string | null {
  const source = normalize(mount.source);
  for (const socket of sockets) {
    if (source === socket || source === '/' || socket.startsWith(`${source}/`)) return socket;
  }
  return DOCKER_SOCKET_PATHS.includes(normalize(mount.destination)) ? normalize(mount.destination) : null;
}

function lsmFindings(posture: ContainerPosture, hostLsms: readonly string[] | null | undefined): Finding[] {
  const { lsm } = posture;
  if (lsm === null) {
    const present = (hostLsms ?? []).filter((name) => LABELLING_LSMS.includes(name));
    return present.length > 0
      ? [{ id: 'lsm_unconfined', severity: 'medium', reason: `the host runs ${present.join(', ')} but the process carries no label` }]
      : [];
  }
  if (lsm.name === 'apparmor') {
    if (lsm.label === 'unconfined' || lsm.label.startsWith('unconfined ')) {
      return [{ id: 'lsm_unconfined', severity: 'medium', reason: 'AppArmor runs on the host but the process is unconfined' }];
    }
    if (/\(complain\)$/.test(lsm.label)) {
      return [{ id: 'lsm_complain_mode', severity: 'low', reason: `AppArmor profile ${lsm.label} only logs, it does not enforce` }];
    }
  }
  if (lsm.name === 'selinux') {
    const type = lsm.label.split(':')[2];
    if (type !== undefined && UNCONFINED_SELINUX_TYPES.has(type)) {
      return [{ id: 'lsm_unconfined', severity: 'medium', reason: `SELinux runs on the host but the process's type ${type} is unconfined` }];
    }
  }
  return [];
}

/**
 * The risks a container's init process carries, most severe first. See the table above for
 * what each id means and why it has its severity.
 */
export function assessContainer(posture: ContainerPosture, facts: ContainerFacts): Finding[] {
  const findings: Finding[] = [];
  const caps = posture.capabilities;
  const held = mask(caps.permitted.hex) | mask(caps.effective.hex) | mask(caps.bounding.hex) | mask(caps.ambient.hex);
  const heldHex = formatCapabilityMask(held);
  const ownUserNamespace = !posture.userNamespace.rootIsHostRoot && posture.hostNamespaces?.user === false;
  const scoped = (s: Severity) => (ownUserNamespace ? lower(s) : s);
  const hasUid = Number.isInteger(posture.uid.effective);
  const isRoot = hasUid ? posture.uid.real === 0 || posture.uid.effective === 0 || posture.uid.saved === 0 : userIsRoot(facts.user);

  // An engine grants only the capabilities it knows: Docker 20.10's list ends at cap_audit_read
  // (bit 37), so "every capability it can give" is measured on bits 0..37 of its bounding set.
  const full = (facts.engineCapabilities !== undefined ? mask(facts.engineCapabilities) : ALL_KNOWN_CAPABILITIES_MASK) & ENGINE_KNOWN_CAPABILITIES;
  const privileged = facts.privileged === true || isFullSet(heldHex, full);
  if (privileged) {
    findings.push({
      id: 'privileged',
      severity: scoped('critical'),
      reason: facts.privileged
        ? 'runs --privileged: every capability and every host device, as good as root on the host'
        : 'holds every capability the engine can give: as good as --privileged',
    });
  } else {
    for (const name of beyondDockerDefault(heldHex)) {
      findings.push({
        id: `capability:${name}`,
        severity: scoped(CAPABILITY_RISK[name] ?? UNKNOWN_CAPABILITY_RISK),
        reason: `holds ${name}, which Docker's default set leaves out`,
      });
    }
  }

  if (posture.seccomp.mode === 0) {
    findings.push({ id: 'seccomp_disabled', severity: 'high', reason: 'no seccomp filter: every system call reaches the kernel' });
  }

  if (!posture.noNewPrivs) {
    const bounding = mask(caps.bounding.hex);
    const canGainCapabilities = (bounding & ~mask(caps.permitted.hex)) !== 0n;
    if (!isRoot || canGainCapabilities) {
      const extra = beyondDockerDefault(caps.bounding.hex).length > 0;
      findings.push({
        id: 'no_new_privs_off',
        severity: extra ? 'medium' : 'low',
        reason: isRoot
          ? 'no_new_privs is off and the bounding set holds capabilities the process lacks: an exec can gain them'
          : 'no_new_privs is off: a setuid or file-capability binary can raise this non-root process to root',
      });
    }
  }

  for (const [type, severity, reason] of NAMESPACE_RISK) {
    if (facts.hostNamespaces[type] === true || posture.hostNamespaces?.[type] === true) {
      findings.push({ id: `host_namespace:${type}`, severity, reason });
    }
  }

  const sockets = [...new Set([...DOCKER_SOCKET_PATHS, ...(facts.dockerSockets ?? [])].map(normalize))];
  for (const mount of facts.mounts) {
    const socket = exposesSocket(mount, sockets);
    if (socket !== null) {
      const what = normalize(mount.source) === socket ? 'the Docker socket' : `${normalize(mount.source)} (holding ${socket})`;
      findings.push({
        id: `docker_socket:${normalize(mount.destination)}`,
        severity: 'critical',
        reason: `mounts ${what} at ${mount.destination}: whoever reaches it controls the engine and the host`,
      });
    }
  }

  if (isRoot && posture.userNamespace.rootIsHostRoot) {
    findings.push({
      id: 'root_without_userns',
      severity: 'medium',
      reason: 'runs as root and no user namespace remaps it: uid 0 inside is uid 0 on the host',
    });
  }

  findings.push(...lsmFindings(posture, facts.hostLsms));

  return findings
    .map((finding, index) => ({ finding, index }))
    .sort((a, b) => SEVERITY_ORDER.indexOf(a.finding.severity) - SEVERITY_ORDER.indexOf(b.finding.severity) || a.index - b.index)
    .map(({ finding }) => finding);
}
