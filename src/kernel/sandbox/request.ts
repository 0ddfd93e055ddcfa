import { realpathSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { capabilityBit, capabilityName } from '../capabilities.js';
import { NsgateError } from '../errors.js';
import {
  execLimits,
  type ExecLimits,
  type ExecUser,
  validateArgv,
  validateBoundedInt,
  validateEnv,
  validateNamespaces,
  validateStdin,
  validateUser,
} from '../exec/request.js';
import type { NamespaceType } from '../procfs/namespace-types.js';

/** What `unshare` can give a sandbox here. user and time are not offered (no uid mapping is set up). */
export const SANDBOX_NAMESPACES: readonly NamespaceType[] = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'uts'];

/** The tutorial's `unshare --fork --pid --mount-proc` plus uts, ipc and net (a new, empty network). */
export const DEFAULT_SANDBOX_NAMESPACES: readonly NamespaceType[] = ['ipc', 'mnt', 'net', 'pid', 'uts'];

export interface SandboxRequest {
  argv: string[];
  /** Always holds mnt: /proc is remounted and the root made read-only in the sandbox's own mount table. */
  namespaces: NamespaceType[];
  /** The cgroup vocabulary (`{memory: {max: "64M"}, pids: {max: 32}, ...}`), checked by the cgroup layer. */
  limits?: unknown;
  /** A directory to pivot_root into (resolved, without symlinks); default: the host's root, read-only. */
  rootfs?: string;
  hostname?: string;
  /** Capabilities kept (lower-case libcap names); default none. */
  capabilities: string[];
  /** no_new_privs (setuid binaries and file capabilities give nothing); default true. */
  noNewPrivs: boolean;
  /** The whole file tree read-only inside (the sandbox's mount table only); default true. */
  readOnlyRoot: boolean;
  user?: ExecUser;
  /** A user namespace: ids 0..count-1 inside are base.. on the host (unprivileged there). */
  userns?: SandboxUserns;
  env: Record<string, string>;
  stdin?: string;
  maxOutputBytes: number;
  /** Killed after this long; default: runs until it ends or is deleted. */
  timeoutMs?: number;
}

export interface SandboxUserns {
  base: number;
  count: number;
}

/**
 * `userns: true` maps root inside to this host range: high above the ids of real users and of
 * Docker's and systemd's usual subordinate ranges, so no host file is owned by any id of it.
 */
export const DEFAULT_SANDBOX_USERNS: Readonly<SandboxUserns> = Object.freeze({ base: 0x70000000, count: 65536 });

export function validateUserns(input: unknown, user: ExecUser | undefined): SandboxUserns | undefined {
  if (input === undefined || input === null || input === false) return undefined;
  if (input !== true) throw invalid('userns', 'must be true or false');
  const range = { ...DEFAULT_SANDBOX_USERNS };
  if (user && (user.uid >= range.count || user.gid >= range.count || user.groups.some((g) => g >= range.count))) {
    throw invalid('user', `with userns, ids are inside the namespace: 0 to ${range.count - 1}`);
  }
  return range;
}

const HOSTNAME = /^(?=.{1,64}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const FIELDS = new Set([
  'argv',
  'namespaces',
  'limits',
  'rootfs',
  'hostname',
  'capabilities',
  'noNewPrivs',
  'readOnlyRoot',
  'user',
  'userns',
  'env',
  'stdin',
  'maxOutputBytes',
  'timeoutMs',
]);

function invalid(field: string, message: string, details: Record<string, unknown> = {}): NsgateError {
  return new NsgateError('VALIDATION_FAILED', `${field}: ${message}`, { field, ...details });
}

function validateBoolean(input: unknown, fallback: boolean, field: string): boolean {
  if (input === undefined || input === null) return fallback;
  if (typeof input !== 'boolean') throw invalid(field, 'must be true or false');
  return input;
}

export function validateHostname(input: unknown, namespaces: readonly NamespaceType[]): string | undefined {
  if (input === undefined || input === null) return undefined;
  if (typeof input !== 'string' || !HOSTNAME.test(input)) throw invalid('hostname', 'must be a host name of letters, digits, "-" and ".", at most 64 bytes');
  if (!namespaces.includes('uts')) throw invalid('hostname', 'needs the uts namespace');
  return input;
}

/** Names as capsh, libcap or Docker write them ("CAP_NET_RAW", "net_raw", "cap_net_raw"), each once; up to the kernel's last one. */
export function validateCapabilities(input: unknown, lastCap: number): string[] {
  if (input === undefined || input === null) return [];
  if (!Array.isArray(input) || input.length > 64) throw invalid('capabilities', 'must be a list of capability names');
  const bits = new Set<number>();
  input.forEach((name, i) => {
    if (typeof name !== 'string') throw invalid('capabilities', `entry ${i} is not a string`);
    let bit: number;
    try {
      bit = capabilityBit(name);
    } catch {
      throw invalid('capabilities', `unknown capability ${JSON.stringify(name.slice(0, 40))}`);
    }
    if (bit > lastCap) throw invalid('capabilities', `${name} is not known to this kernel (last is ${lastCap})`);
    bits.add(bit);
  });
  return [...bits].sort((a, b) => a - b).map(capabilityName);
}

/**
 * A root directory for the sandbox: absolute, an existing directory, resolved to its real path
 * (what is checked is what is entered), not the host root, not under /proc, /sys or /dev, and
 * with a /proc directory to mount on when the sandbox has a pid namespace.
 */
export function validateRootfs(input: unknown, namespaces: readonly NamespaceType[]): string | undefined {
  if (input === undefined || input === null) return undefined;
  if (typeof input !== 'string' || !input.startsWith('/') || input.includes('\0') || Buffer.byteLength(input) > 4096) {
    throw invalid('rootfs', 'must be an absolute path');
  }
  let real: string;
  try {
    real = realpathSync(posix.normalize(input));
  } catch {
    throw invalid('rootfs', 'does not exist', { rootfs: input });
  }
  if (real === '/') throw invalid('rootfs', 'is the host root; leave rootfs out for that');
  if (/^\/(?:proc|sys|dev)(?:\/|$)/.test(real)) throw invalid('rootfs', 'may not be under /proc, /sys or /dev', { rootfs: real });
  if (!statSync(real).isDirectory()) throw invalid('rootfs', 'is not a directory', { rootfs: real });
  if (namespaces.includes('pid')) {
    const proc = statSync(join(real, 'proc'), { throwIfNoEntry: false });
    if (!proc?.isDirectory()) throw invalid('rootfs', 'has no /proc directory to mount the sandbox\'s /proc on', { rootfs: real });
  }
  return real;
}

export interface ParseSandboxOptions {
  limits?: Partial<ExecLimits>;
  /** /proc/sys/kernel/cap_last_cap. */
  lastCap: number;
}

/** Validates a sandbox request in full; unknown fields refused. */
export function parseSandboxRequest(input: unknown, options: ParseSandboxOptions): SandboxRequest {
  const limits = execLimits(options.limits);
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('request', 'must be an object');
  const body = input as Record<string, unknown>;
  for (const key of Object.keys(body)) if (!FIELDS.has(key)) throw invalid(key, 'is not a field of a sandbox request');
  const namespaces = validateNamespaces(body.namespaces, DEFAULT_SANDBOX_NAMESPACES, SANDBOX_NAMESPACES);
  if (!namespaces.includes('mnt')) throw invalid('namespaces', 'a sandbox always has its own mount namespace (mnt)');
  const request: SandboxRequest = {
    argv: validateArgv(body.argv, limits),
    namespaces,
    capabilities: validateCapabilities(body.capabilities, options.lastCap),
    noNewPrivs: validateBoolean(body.noNewPrivs, true, 'noNewPrivs'),
    readOnlyRoot: validateBoolean(body.readOnlyRoot, true, 'readOnlyRoot'),
    env: validateEnv(body.env, limits),
    maxOutputBytes: validateBoundedInt(body.maxOutputBytes, limits.defaultMaxOutputBytes, limits.maxOutputBytes, 'maxOutputBytes'),
  };
  if (body.limits !== undefined && body.limits !== null) {
    if (typeof body.limits !== 'object' || Array.isArray(body.limits)) throw invalid('limits', 'must be an object in the cgroup vocabulary');
    request.limits = body.limits;
  }
  const hostname = validateHostname(body.hostname, namespaces);
  if (hostname) request.hostname = hostname;
  const rootfs = validateRootfs(body.rootfs, namespaces);
  if (rootfs) request.rootfs = rootfs;
  const user = validateUser(body.user);
  if (user) request.user = user;
  const userns = validateUserns(body.userns, user);
  if (userns) request.userns = userns;
  const stdin = validateStdin(body.stdin, limits);
  if (stdin !== undefined) request.stdin = stdin;
  if (body.timeoutMs !== undefined && body.timeoutMs !== null) {
    request.timeoutMs = validateBoundedInt(body.timeoutMs, 0, 24 * 3600_000, 'timeoutMs');
  }
  return request;
}
