import { posix } from 'node:path';
import { NsgateError } from '../errors.js';
import { isNamespaceType, NAMESPACE_TYPES, type NamespaceType } from '../procfs/namespace-types.js';

/** The PATH a command gets when the caller gives none (Docker's and runc's default). */
export const DEFAULT_EXEC_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What `nsenter --target PID --mount --uts --ipc --net --pid` enters: the tutorial's default for a process. */
export const DEFAULT_PROCESS_NAMESPACES: readonly NamespaceType[] = ['mnt', 'uts', 'ipc', 'net', 'pid'];

/** Bounds on everything a caller controls. Services may lower them; the kernel layer enforces them. */
export interface ExecLimits {
  /** argv entries, the command included. */
  maxArgs: number;
  /** Bytes of argv, one NUL per entry counted. */
  maxArgvBytes: number;
  maxEnv: number;
  /** Bytes of NAME=VALUE entries, one NUL each counted. */
  maxEnvBytes: number;
  maxStdinBytes: number;
  maxCwdBytes: number;
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  /** Per stream (stdout and stderr each). */
  defaultMaxOutputBytes: number;
  maxOutputBytes: number;
}

export const DEFAULT_EXEC_LIMITS: Readonly<ExecLimits> = Object.freeze({
  maxArgs: 1024,
  maxArgvBytes: 128 * 1024,
  maxEnv: 128,
  maxEnvBytes: 64 * 1024,
  maxStdinBytes: 1024 * 1024,
  maxCwdBytes: 4096,
  defaultTimeoutMs: 10_000,
  maxTimeoutMs: 10 * 60_000,
  defaultMaxOutputBytes: 1024 * 1024,
  maxOutputBytes: 16 * 1024 * 1024,
});

/** Who the command runs as inside. Numeric only: names would have to be read from the target's own files. */
export interface ExecUser {
  uid: number;
  /** Default: the uid's number. */
  gid: number;
  /** Supplementary groups; default none. */
  groups: number[];
}

/** A request after validation: every field present, every bound checked. */
export interface ExecRequest {
  argv: string[];
  namespaces: NamespaceType[];
  timeoutMs: number;
  maxOutputBytes: number;
  user?: ExecUser;
  cwd?: string;
  /** The caller's variables only (PATH added at spawn when absent). */
  env: Record<string, string>;
  stdin?: string;
  /**
   * false (default): the command gets the target's confinement (ids, capabilities, no_new_privs,
   * LSM label, seccomp filters, rlimits, oom_score_adj, cgroups). true: nsenter's semantics,
   * host root with every capability in the target's namespaces.
   */
  privileged: boolean;
}

export interface ParseExecOptions {
  limits?: Partial<ExecLimits>;
  /** The namespaces when the request names none: DEFAULT_PROCESS_NAMESPACES for a process, the unshared ones for a container. */
  defaultNamespaces?: readonly NamespaceType[];
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_ID = 4294967294; // (uid_t)-1 means "unchanged" to the kernel

function invalid(field: string, message: string, details: Record<string, unknown> = {}): NsgateError {
  return new NsgateError('VALIDATION_FAILED', `${field}: ${message}`, { field, ...details });
}

export function execLimits(overrides: Partial<ExecLimits> = {}): ExecLimits {
  const limits = { ...DEFAULT_EXEC_LIMITS, ...overrides };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new NsgateError('INTERNAL', `exec limit ${key} must be a positive integer`, { key, value });
  }
  return limits;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A path that goes through one of a process's descriptors, its working directory, root or
 * executable (`/proc/PID/fd/N`, `/proc/self/cwd/...`, `/proc/1/root`, `/dev/fd/N`): the way a
 * leaked host descriptor is turned into an escape (runc CVE-2016-9962, CVE-2024-21626).
 * Listing `/proc/self/fd` itself is fine (it shows link names, it opens nothing). Checked on the
 * text as given and with `.`, `..` and `//` folded, anywhere in the string (`--in=/proc/self/fd/3` too).
 */
export function reachesProcessDescriptors(value: string): boolean {
  const PROC = /\/proc\/+(?:self|thread-self|\d+)(?:\/+task\/+\d+)?\/+(?:(?:fd|map_files)\/+[^/]|(?:cwd|root|exe)(?:\/|$|[^A-Za-z0-9_-]))/;
  const DEV_FD = /(?:^|[^A-Za-z0-9_.-])\/dev\/+fd\/+[^/]/;
  return [value, posix.normalize(value)].some((form) => PROC.test(form) || DEV_FD.test(form));
}

/** argv: a non-empty array of strings, no NUL, within the count and byte bounds; never a shell line. */
export function validateArgv(input: unknown, limits: ExecLimits, field = 'argv'): string[] {
  if (!Array.isArray(input) || input.length === 0) throw invalid(field, 'must be a non-empty array of strings (no shell: one entry per argument)');
  if (input.length > limits.maxArgs) throw invalid(field, `at most ${limits.maxArgs} entries`, { count: input.length, max: limits.maxArgs });
  let bytes = 0;
  input.forEach((arg, i) => {
    if (typeof arg !== 'string') throw invalid(field, `entry ${i} is not a string`, { index: i });
    if (arg.includes('\0')) throw invalid(field, `entry ${i} contains NUL`, { index: i });
    if (reachesProcessDescriptors(arg)) throw invalid(field, `entry ${i} reaches a process's descriptors through /proc or /dev/fd`, { index: i });
    bytes += Buffer.byteLength(arg) + 1;
  });
  if (input[0] === '') throw invalid(field, 'the command (entry 0) is empty');
  if (bytes > limits.maxArgvBytes) throw invalid(field, `at most ${limits.maxArgvBytes} bytes`, { bytes, max: limits.maxArgvBytes });
  return [...(input as string[])];
}

/** Variables the caller gives: names of letters, digits and `_` (not starting with a digit), values without NUL. */
export function validateEnv(input: unknown, limits: ExecLimits, field = 'env'): Record<string, string> {
  if (input === undefined || input === null) return {};
  const entries: [string, unknown][] = [];
  if (Array.isArray(input)) {
    // Docker's spelling: ["NAME=value", ...]
    input.forEach((item, i) => {
      if (typeof item !== 'string' || !item.includes('=')) throw invalid(field, `entry ${i} must be "NAME=value"`, { index: i });
      const eq = item.indexOf('=');
      entries.push([item.slice(0, eq), item.slice(eq + 1)]);
    });
  } else if (isRecord(input)) {
    entries.push(...Object.entries(input));
  } else {
    throw invalid(field, 'must be an object of NAME: value (or a list of "NAME=value")');
  }
  if (entries.length > limits.maxEnv) throw invalid(field, `at most ${limits.maxEnv} variables`, { count: entries.length, max: limits.maxEnv });
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  let bytes = 0;
  for (const [name, value] of entries) {
    if (!ENV_NAME.test(name)) throw invalid(field, `not a variable name: ${JSON.stringify(name.slice(0, 64))}`, { name: name.slice(0, 64) });
    if (name in env) throw invalid(field, `${name} is given twice`, { name });
    if (typeof value !== 'string') throw invalid(field, `the value of ${name} must be a string`, { name });
    if (value.includes('\0')) throw invalid(field, `the value of ${name} contains NUL`, { name });
    env[name] = value;
    bytes += Buffer.byteLength(name) + 1 + Buffer.byteLength(value) + 1;
  }
  if (bytes > limits.maxEnvBytes) throw invalid(field, `at most ${limits.maxEnvBytes} bytes`, { bytes, max: limits.maxEnvBytes });
  return { ...env };
}

/** The command's environment: PATH (the caller's, else the default), then the caller's variables. */
export function commandEnvironment(env: Record<string, string>): string[] {
  const out = [`PATH=${env.PATH ?? DEFAULT_EXEC_PATH}`];
  for (const [name, value] of Object.entries(env)) if (name !== 'PATH') out.push(`${name}=${value}`);
  return out;
}

/**
 * The working directory inside the target: absolute, folded (no `.`/`..`), and never under /proc
 * or /dev/fd (a working directory there is how CVE-2024-21626 reached a leaked descriptor).
 */
export function validateCwd(input: unknown, limits: ExecLimits, field = 'cwd'): string | undefined {
  if (input === undefined || input === null) return undefined;
  if (typeof input !== 'string' || !input.startsWith('/')) throw invalid(field, 'must be an absolute path');
  if (input.includes('\0')) throw invalid(field, 'contains NUL');
  if (Buffer.byteLength(input) > limits.maxCwdBytes) throw invalid(field, `at most ${limits.maxCwdBytes} bytes`);
  const folded = posix.normalize(input);
  if (folded === '/proc' || folded.startsWith('/proc/') || /^\/dev\/fd(?:\/|$)/.test(folded) || reachesProcessDescriptors(input)) {
    throw invalid(field, 'may not be under /proc or /dev/fd', { cwd: folded });
  }
  return folded.length > 1 && folded.endsWith('/') ? folded.slice(0, -1) : folded;
}

/** Namespace types, each once; `allowed` narrows them (sandboxes cannot make every kind). */
export function validateNamespaces(
  input: unknown,
  fallback: readonly NamespaceType[],
  allowed: readonly NamespaceType[] = NAMESPACE_TYPES,
  field = 'namespaces',
): NamespaceType[] {
  if (input === undefined || input === null) return NAMESPACE_TYPES.filter((t) => fallback.includes(t));
  if (!Array.isArray(input) || input.length === 0) throw invalid(field, `must be a non-empty list of ${allowed.join(', ')}`);
  const seen = new Set<NamespaceType>();
  for (const item of input) {
    if (typeof item !== 'string' || !isNamespaceType(item) || !allowed.includes(item)) {
      throw invalid(field, `not one of ${allowed.join(', ')}: ${JSON.stringify(String(item).slice(0, 32))}`);
    }
    if (seen.has(item)) throw invalid(field, `${item} is listed twice`);
    seen.add(item);
  }
  return NAMESPACE_TYPES.filter((t) => seen.has(t));
}

function validateId(value: unknown, field: string): number {
  const n = typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > MAX_ID) throw invalid(field, `must be a number from 0 to ${MAX_ID}`);
  return n;
}

/**
 * `1000`, `"1000"`, `"1000:1000"` or `{uid, gid?, groups?}`. Names are refused: resolving one
 * would mean reading the target's own /etc/passwd, which the target controls.
 */
export function validateUser(input: unknown, field = 'user'): ExecUser | undefined {
  if (input === undefined || input === null) return undefined;
  if (typeof input === 'number' || typeof input === 'string') {
    const text = String(input);
    const m = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(text);
    if (!m) throw invalid(field, 'must be "uid" or "uid:gid" in numbers (names are not resolved)');
    const uid = validateId(m[1], `${field}.uid`);
    return { uid, gid: m[2] === undefined ? uid : validateId(m[2], `${field}.gid`), groups: [] };
  }
  if (!isRecord(input)) throw invalid(field, 'must be a uid, "uid:gid" or {uid, gid, groups}');
  const uid = validateId(input.uid, `${field}.uid`);
  const gid = input.gid === undefined ? uid : validateId(input.gid, `${field}.gid`);
  const groups = input.groups === undefined ? [] : input.groups;
  if (!Array.isArray(groups) || groups.length > 64) throw invalid(`${field}.groups`, 'must be a list of at most 64 group ids');
  return { uid, gid, groups: groups.map((g, i) => validateId(g, `${field}.groups[${i}]`)) };
}

export function validateStdin(input: unknown, limits: ExecLimits, field = 'stdin'): string | undefined {
  if (input === undefined || input === null) return undefined;
  if (typeof input !== 'string') throw invalid(field, 'must be a string');
  const bytes = Buffer.byteLength(input);
  if (bytes > limits.maxStdinBytes) throw invalid(field, `at most ${limits.maxStdinBytes} bytes`, { bytes, max: limits.maxStdinBytes });
  return input;
}

export function validateBoundedInt(input: unknown, fallback: number, max: number, field: string, min = 1): number {
  if (input === undefined || input === null) return fallback;
  if (typeof input !== 'number' || !Number.isSafeInteger(input) || input < min || input > max) {
    throw invalid(field, `must be an integer from ${min} to ${max}`, { value: input, min, max });
  }
  return input;
}

function validatePrivileged(input: unknown): boolean {
  if (input === undefined || input === null) return false;
  if (typeof input !== 'boolean') throw invalid('privileged', 'must be true or false');
  return input;
}

const EXEC_FIELDS = new Set(['argv', 'namespaces', 'timeoutMs', 'maxOutputBytes', 'user', 'cwd', 'env', 'stdin', 'privileged']);

/** `{argv, namespaces?, timeoutMs?, maxOutputBytes?, user?, cwd?, env?, stdin?, privileged?}` checked in full; unknown fields refused. */
export function parseExecRequest(input: unknown, options: ParseExecOptions = {}): ExecRequest {
  const limits = execLimits(options.limits);
  if (!isRecord(input)) throw invalid('request', 'must be an object');
  for (const key of Object.keys(input)) if (!EXEC_FIELDS.has(key)) throw invalid(key, 'is not a field of an exec request');
  const request: ExecRequest = {
    argv: validateArgv(input.argv, limits),
    namespaces: validateNamespaces(input.namespaces, options.defaultNamespaces ?? DEFAULT_PROCESS_NAMESPACES),
    timeoutMs: validateBoundedInt(input.timeoutMs, limits.defaultTimeoutMs, limits.maxTimeoutMs, 'timeoutMs'),
    maxOutputBytes: validateBoundedInt(input.maxOutputBytes, limits.defaultMaxOutputBytes, limits.maxOutputBytes, 'maxOutputBytes'),
    env: validateEnv(input.env, limits),
    privileged: validatePrivileged(input.privileged),
  };
  const user = validateUser(input.user);
  if (user) request.user = user;
  const cwd = validateCwd(input.cwd, limits);
  if (cwd !== undefined) request.cwd = cwd;
  const stdin = validateStdin(input.stdin, limits);
  if (stdin !== undefined) request.stdin = stdin;
  return request;
}
