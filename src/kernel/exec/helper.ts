import { type ChildProcess, spawn, type StdioOptions } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, fstatSync, mkdtempSync, openSync, rmdirSync, statSync, unlinkSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { constants as osConstants } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { NsgateError } from '../errors.js';
import { isNamespaceType, type NamespaceType } from '../procfs/namespace-types.js';
import { protectedProcesses } from '../protected-processes.js';
import { CappedOutput } from './output.js';

/** Where scripts/build-native.sh puts the helper, relative to the repository (or installed package) root. */
export const HELPER_RELATIVE_PATH = 'dist/native/nsgate-exec';

/** The helper's exit code when it refused or failed before the command ran. */
export const HELPER_SETUP_FAILED = 125;

/** The package root: the nearest folder above this module with a package.json (src/ and dist/ alike). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new NsgateError('INTERNAL', 'cannot find the nsgate package root to locate the exec helper');
    dir = up;
  }
}

export function defaultHelperPath(): string {
  return join(packageRoot(), HELPER_RELATIVE_PATH);
}

/**
 * The helper runs as root with every capability before it drops into a target, so it must be
 * a host file only root can change: an absolute path, a regular file owned by this process's
 * user, writable by nobody else, and every folder above it up to `/` owned by root (or this
 * user) and writable by no group or other user, unless it is a root-owned sticky folder.
 */
export function checkHelperBinary(path: string): string {
  if (!isAbsolute(path)) throw new NsgateError('INTERNAL', `the exec helper path must be absolute: ${path}`);
  const euid = process.geteuid?.() ?? 0;
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new NsgateError('INTERNAL', `the exec helper ${path} is missing; build it with scripts/build-native.sh`, { path });
  }
  if (!st.isFile() || (st.mode & 0o111) === 0) throw new NsgateError('INTERNAL', `the exec helper ${path} is not an executable file`, { path });
  if (st.uid !== euid || (st.mode & 0o022) !== 0) {
    throw new NsgateError('INTERNAL', `the exec helper ${path} must be owned by uid ${euid} and writable by no one else`, { path, uid: st.uid, mode: st.mode & 0o7777 });
  }
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const d = statSync(dir);
    // A sticky folder owned by root (/tmp, mode 1777) lets others add entries but not rename or
    // remove one they do not own, so the path below it stays ours: a checkout under /tmp is fine.
    const sticky = (d.mode & 0o1000) !== 0 && d.uid === 0;
    if ((d.uid !== 0 && d.uid !== euid) || ((d.mode & 0o022) !== 0 && !sticky)) {
      throw new NsgateError('INTERNAL', `the folder ${dir} above the exec helper ${path} must be owned by root and writable by no one else`, { path, folder: dir, uid: d.uid, mode: d.mode & 0o7777 });
    }
    if (dir === dirname(dir)) break;
  }
  return path;
}

/** The helper as nsgate runs it: a private copy opened once, whatever happens to the file later. */
export interface OpenedHelper {
  /** The checked file on disk it was copied from. */
  path: string;
  /** What is executed: `/proc/self/fd/N`, a descriptor of the private copy (resolved in the child before execve). */
  execPath: string;
  fd: number;
}

const openedHelpers = new Map<string, OpenedHelper>();

/**
 * Checks the helper (checkHelperBinary), then copies it once into a folder only this user can
 * reach, opens the copy and unlinks it: the descriptor is then the only way to the program, so
 * replacing or rewriting the file on disk later changes nothing nsgate runs (the effect of a
 * sealed memfd, which Node cannot make). The copy is checked to be the file that was checked.
 * One copy per path for the life of the process.
 */
/**
 * openHelper, or the reason exec cannot run (503 EXEC_UNAVAILABLE): a helper that fails its
 * checks disables exec and sandboxes, not the whole service.
 */
export function openHelperOrReason(path: string): OpenedHelper | NsgateError {
  try {
    return openHelper(path);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return new NsgateError('EXEC_UNAVAILABLE', `exec and sandboxes are unavailable: ${why}`, { helper: path, ...(err instanceof NsgateError ? err.details : {}) });
  }
}

export function openHelper(path: string): OpenedHelper {
  const known = openedHelpers.get(path);
  if (known) return known;
  checkHelperBinary(path);
  const source = openSync(path, 'r');
  const dir = mkdtempSync(join(tmpdir(), 'nsgate-helper-'));
  const copy = join(dir, 'nsgate-exec');
  let fd: number | undefined;
  try {
    const st = fstatSync(source);
    const checked = statSync(path);
    if (st.ino !== checked.ino || st.dev !== checked.dev) throw new NsgateError('INTERNAL', `the exec helper ${path} changed while it was opened`, { path });
    copyFileSync(`/proc/self/fd/${source}`, copy);
    chmodSync(copy, 0o500);
    // Low numbers are where a child's stdio and channel go: keep the copy's descriptor above them.
    const low: number[] = [];
    fd = openSync(copy, 'r');
    while (fd <= 8) {
      low.push(fd);
      fd = openSync(copy, 'r');
    }
    low.forEach((n) => closeSync(n));
  } finally {
    closeSync(source);
    try {
      unlinkSync(copy);
    } catch {
      // not made
    }
    rmdirSync(dir);
  }
  const opened = { path, execPath: `/proc/self/fd/${fd}`, fd };
  openedHelpers.set(path, opened);
  return opened;
}

// ---- the channel ---------------------------------------------------------------------------

/** What the helper applied to a confined command: the target's, as read from the kernel at pin time. */
export interface AppliedConfinement {
  /** real, effective, saved, filesystem (before a requested `user` replaces them). */
  uid: number[];
  gid: number[];
  groups: number[];
  capabilities: { inheritable: string; permitted: string; effective: string; bounding: string; ambient: string };
  noNewPrivs: boolean;
  seccomp: { mode: number; filters: number };
  /** The LSM label the command gets at execve; null where no LSM labels the target. */
  lsmLabel: string | null;
  oomScoreAdj: number;
  rlimits: number;
  /** How many cgroup hierarchies the command joined the target in. */
  cgroups: number;
}

function parseConfined(rest: string[]): AppliedConfinement | null {
  const f = Object.fromEntries(rest.map((item) => [item.slice(0, item.indexOf('=')), item.slice(item.indexOf('=') + 1)]));
  const ids = (v: string | undefined) => (v && v !== '-' ? v.split(',').map(Number) : []);
  const hex = /^[0-9a-f]{16}$/;
  const caps = ['inh', 'prm', 'eff', 'bnd', 'amb'].map((k) => f[k]);
  if (!f.uid || !f.gid || caps.some((c) => !c || !hex.test(c))) return null;
  return {
    uid: ids(f.uid),
    gid: ids(f.gid),
    groups: ids(f.groups),
    capabilities: { inheritable: caps[0]!, permitted: caps[1]!, effective: caps[2]!, bounding: caps[3]!, ambient: caps[4]! },
    noNewPrivs: f.nnp === '1',
    seccomp: { mode: Number(f.seccomp), filters: Number(f.filters) },
    lsmLabel: f.lsm && f.lsm !== '-' ? f.lsm : null,
    oomScoreAdj: Number(f.oom),
    rlimits: Number(f.rlimits),
    cgroups: Number(f.cgroups),
  };
}

export type HelperEvent =
  | { kind: 'entered'; namespaces: Partial<Record<NamespaceType, string>> }
  | { kind: 'confined'; confinement: AppliedConfinement }
  | { kind: 'child'; pid: number }
  | { kind: 'error'; stage: string; errno: string | null; message: string }
  | { kind: 'exit'; code: number }
  | { kind: 'signal'; signal: number };

/** One line the helper wrote on its channel; null for anything it does not say. */
export function parseHelperLine(line: string): HelperEvent | null {
  const [word, ...rest] = line.split(' ');
  switch (word) {
    case 'entered': {
      const namespaces: Partial<Record<NamespaceType, string>> = {};
      for (const item of rest) {
        const m = /^([a-z]+)=(\d+)$/.exec(item);
        if (m && isNamespaceType(m[1]!)) namespaces[m[1]] = m[2]!;
      }
      return { kind: 'entered', namespaces };
    }
    case 'confined': {
      const confinement = parseConfined(rest);
      return confinement ? { kind: 'confined', confinement } : null;
    }
    case 'child': {
      const pid = Number(rest[0]);
      return Number.isSafeInteger(pid) && pid > 0 ? { kind: 'child', pid } : null;
    }
    case 'error': {
      const [stage, errno, ...text] = rest;
      if (!stage) return null;
      return { kind: 'error', stage, errno: errno && errno !== '-' ? errno : null, message: text.join(' ') };
    }
    case 'exit': {
      const code = Number(rest[0]);
      return Number.isInteger(code) && code >= 0 && code < 256 ? { kind: 'exit', code } : null;
    }
    case 'signal': {
      const signal = Number(rest[0]);
      return Number.isInteger(signal) && signal > 0 && signal < 65 ? { kind: 'signal', signal } : null;
    }
    default:
      return null;
  }
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(osConstants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/** 9 -> "SIGKILL"; a real-time or unknown signal as "SIG<n>". */
export function signalName(signal: number): string {
  return SIGNAL_NAMES.get(signal) ?? `SIG${signal}`;
}

// ---- one run of the helper -------------------------------------------------------------------

export interface HelperSpawnOptions {
  helperPath: string;
  /** The helper's arguments: mode, options, `--`, the command. */
  args: string[];
  /** A cgroup v2 directory for clone3(CLONE_INTO_CGROUP); handed over as descriptor 4. */
  cgroupFd?: number;
  stdin?: string;
  /** Per stream. */
  maxOutputBytes: number;
  /** Called once when either stream passes the cap. */
  onOverflow: () => void;
}

export interface HelperStatus {
  exitCode: number | null;
  signal: string | null;
}

export interface HelperOutcome {
  entered: Partial<Record<NamespaceType, string>> | null;
  /** What a confined command got (enter --confine). */
  confinement: AppliedConfinement | null;
  /** The command's host pid, when it was started. */
  childPid: number | null;
  errors: Extract<HelperEvent, { kind: 'error' }>[];
  /** How the command ended, as the helper saw it; null when the helper ended first (killed). */
  command: HelperStatus | null;
  /** How the helper itself ended. */
  helper: HelperStatus;
  stdout: CappedOutput;
  stderr: CappedOutput;
}

const MAX_CHANNEL_BYTES = 64 * 1024;

/**
 * The helper, spawned with an empty environment and `/` as its working directory, its stdio
 * as pipes (never a host file), descriptor 3 its channel, and nothing else but the optional
 * cgroup directory. Node marks every descriptor of its own close-on-exec, so these are all the
 * helper inherits.
 */
export class HelperProcess {
  readonly child: ChildProcess;
  /** Resolves once the kernel has started the helper; rejects when it could not be (ENOENT, EACCES). */
  readonly spawned: Promise<number>;
  /** Resolves with the command's host pid when the helper reports it, null if the helper ends without one. */
  readonly commandStarted: Promise<number | null>;
  /** Resolves when the helper process has exited (the command's descendants may still hold the output open). */
  readonly exited: Promise<HelperStatus>;
  /** Resolves when the helper has exited and both output streams are closed. */
  readonly done: Promise<HelperOutcome>;

  private readonly outcome: HelperOutcome;
  private channelText = '';
  private channelBytes = 0;

  constructor(options: HelperSpawnOptions) {
    const overflow = (() => {
      let called = false;
      return () => {
        if (called) return;
        called = true;
        options.onOverflow();
      };
    })();
    this.outcome = {
      entered: null,
      confinement: null,
      childPid: null,
      errors: [],
      command: null,
      helper: { exitCode: null, signal: null },
      stdout: new CappedOutput(options.maxOutputBytes, overflow),
      stderr: new CappedOutput(options.maxOutputBytes, overflow),
    };
    const stdio: StdioOptions = ['pipe', 'pipe', 'pipe', 'pipe'];
    if (options.cgroupFd !== undefined) stdio.push(options.cgroupFd);
    this.child = spawn(options.helperPath, options.args, { stdio, env: {}, cwd: '/', argv0: 'nsgate-exec', windowsHide: true });

    let resolveCommand!: (pid: number | null) => void;
    this.commandStarted = new Promise((resolve) => (resolveCommand = resolve));
    this.spawned = new Promise((resolve, reject) => {
      this.child.once('spawn', () => {
        // Never moved, frozen or killed through the cgroup routes while it runs.
        protectedProcesses.addHelper(this.child.pid!);
        resolve(this.child.pid!);
      });
      this.child.once('error', reject);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        if (this.child.pid !== undefined) protectedProcesses.removeHelper(this.child.pid);
        this.outcome.helper = { exitCode: code, signal };
        resolve(this.outcome.helper);
      });
    });
    this.done = new Promise((resolve, reject) => {
      this.child.once('error', reject);
      this.child.once('close', () => {
        this.flushChannel(true, resolveCommand);
        resolveCommand(this.outcome.childPid);
        resolve(this.outcome);
      });
    });
    // A failed spawn rejects both; whoever awaits neither must not crash the process.
    this.spawned.catch(() => undefined);
    this.done.catch(() => undefined);

    const [stdin, stdout, stderr, channel] = this.child.stdio as unknown as [Writable, Readable, Readable, Readable & Writable];
    stdin.on('error', () => undefined); // EPIPE when the command never reads its input
    if (options.stdin !== undefined && options.stdin.length > 0) stdin.end(options.stdin);
    else stdin.end();
    stdout.on('data', (chunk: Buffer) => this.outcome.stdout.push(chunk));
    stderr.on('data', (chunk: Buffer) => this.outcome.stderr.push(chunk));
    channel.on('error', () => undefined);
    channel.on('data', (chunk: Buffer) => {
      this.channelBytes += chunk.length;
      if (this.channelBytes > MAX_CHANNEL_BYTES) return; // the helper never says this much
      this.channelText += chunk.toString('utf8');
      this.flushChannel(false, resolveCommand);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The output so far (live: sandboxes show it while they run). */
  get stdout(): CappedOutput {
    return this.outcome.stdout;
  }

  get stderr(): CappedOutput {
    return this.outcome.stderr;
  }

  get outputTruncated(): boolean {
    return this.outcome.stdout.truncated || this.outcome.stderr.truncated;
  }

  /** Lets a helper started with --wait go on (it is in its cgroup now). */
  go(): void {
    (this.child.stdio[3] as Writable).write('go\n');
  }

  /**
   * Stops waiting for the output: a process that escaped the command's cgroup could hold it open
   * forever. What was read so far is kept; `done` resolves.
   */
  abandonOutput(): void {
    for (const stream of this.child.stdio) stream?.destroy();
  }

  /** SIGTERM: a confined helper kills its command's process group and reports how it ended. */
  terminate(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
  }

  /** SIGKILL to the helper itself (a process this module started, by its pid). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private flushChannel(final: boolean, resolveCommand: (pid: number | null) => void): void {
    let nl: number;
    while ((nl = this.channelText.indexOf('\n')) >= 0 || (final && this.channelText.length > 0)) {
      const line = nl >= 0 ? this.channelText.slice(0, nl) : this.channelText;
      this.channelText = nl >= 0 ? this.channelText.slice(nl + 1) : '';
      const event = parseHelperLine(line);
      if (!event) continue;
      switch (event.kind) {
        case 'entered':
          this.outcome.entered = event.namespaces;
          break;
        case 'confined':
          this.outcome.confinement = event.confinement;
          break;
        case 'child':
          this.outcome.childPid = event.pid;
          resolveCommand(event.pid);
          break;
        case 'error':
          if (this.outcome.errors.length < 16) this.outcome.errors.push(event);
          break;
        case 'exit':
          this.outcome.command = { exitCode: event.code, signal: null };
          break;
        case 'signal':
          this.outcome.command = { exitCode: null, signal: signalName(event.signal) };
          break;
      }
    }
  }
}
