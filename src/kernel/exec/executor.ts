import { closeSync, constants, openSync, statfsSync } from 'node:fs';
import { basename as baseName, join } from 'node:path';
import type { CgroupDriver } from '../cgroups/driver.js';
import { CGROUP2_SUPER_MAGIC } from '../cgroups/files.js';
import { type OwnNames, ownNames } from '../cgroups/own-names.js';
import { removeOwnCgroup } from '../cgroups/remove.js';
import { joinCgroupPath, parseCgroupPath } from '../cgroups/paths.js';
import { CgroupSystem } from '../cgroups/system.js';
import { NsgateError } from '../errors.js';
import type { NamespaceType } from '../procfs/namespace-types.js';
import { type ProcOptions, procRootOf } from '../procfs/proc-file.js';
import { readProcessClock, startTimeToIso } from '../procfs/start-time.js';
import { type CgroupHierarchy, membershipOf } from '../cgroups/mounts.js';
import { readProcessCgroups, type CgroupMembership } from '../procfs/cgroup.js';
import { readProcessLsmLabels } from '../procfs/lsm-label.js';
import { DEFAULT_LSM_LIST_PATH, lsmOfCurrentLabel, readLsmList } from '../security.js';
import { type AppliedConfinement, defaultHelperPath, HELPER_SETUP_FAILED, type HelperOutcome, HelperProcess, openHelperOrReason } from './helper.js';
import { DEFAULT_EXEC_LIMITER, ExecLimiter, type ExecLimiterOptions } from './limiter.js';
import { assertPinned, pinProcess, type ProcessPin } from './pin.js';
import { commandEnvironment, type ExecLimits, execLimits, type ExecRequest, parseExecRequest } from './request.js';

/** Where each exec's transient cgroup goes when nothing else is configured: /nsgate/exec/<id>. */
export const DEFAULT_EXEC_CGROUP_PARENT = '/nsgate/exec';

export interface NamespaceExecutorOptions {
  /** The host's cgroups (its managed prefixes must cover cgroupParent). */
  cgroups: CgroupSystem;
  /** Parent of the per-exec cgroups; default /nsgate/exec. */
  cgroupParent?: string;
  /** Absolute host path of nsgate-exec; default dist/native/nsgate-exec in the package. */
  helperPath?: string;
  procRoot?: string;
  /** Shared with whatever else should count against the same slots; default 8 running, 32 waiting. */
  limiter?: ExecLimiter | ExecLimiterOptions;
  limits?: Partial<ExecLimits>;
}

export interface ExecTargetInfo {
  pid: number;
  /** ISO time, as /v1/processes reports it. */
  startTime: string;
  startTimeTicks: number;
}

export interface ExecResult {
  exitCode: number | null;
  /** "SIGKILL" when the timeout, the output cap or an abort killed it. */
  signal: string | null;
  stdout: string;
  stderr: string;
  /** A stream passed maxOutputBytes: it was cut there and the command killed. */
  truncated: boolean;
  timedOut: boolean;
  durationMs: number;
  /** The namespaces the command ran in, as the helper read them after entering: type -> inode. */
  namespaces: Partial<Record<NamespaceType, string>>;
  target: ExecTargetInfo;
  confinement: ExecConfinement;
}

/**
 * Which confinement the command ran with. `target`: the target's, read from the kernel when the
 * helper held the pinned process (ids as the command got them, a requested `user` applied);
 * `privileged`: host root with every capability, nsenter's semantics.
 */
export type ExecConfinement = ({ mode: 'target' } & AppliedConfinement) | { mode: 'privileged' };

export interface ExecRunOptions {
  /** Namespaces when the request names none (default mnt uts ipc net pid; for a container, see unsharedNamespaces). */
  defaultNamespaces?: readonly NamespaceType[];
  /** Kills the command (result signal SIGKILL) when aborted, e.g. when the client went away. */
  signal?: AbortSignal;
  /**
   * The environment a confined command starts from (a Docker container's configured one); the
   * request's variables are laid over it. Privileged execs get only the request's, as before.
   */
  baseEnv?: Record<string, string>;
  /** Told once the command runs: for audit lines and tests. */
  onStart?: (info: ExecStartInfo) => void;
}

export interface ExecStartInfo {
  helperPid: number;
  commandPid: number;
  cgroupPath: string;
}

/** The request fields as a caller may give them (validated again by exec). */
export type ExecRequestInput = Partial<Omit<ExecRequest, 'argv' | 'user'>> & { argv: string[]; user?: unknown };

const HELPER_CLOSE_GRACE_MS = 2000;
const HELPER_REAP_GRACE_MS = 500;

/**
 * Runs a command inside a pinned process's namespaces through nsgate-exec (see
 * native/nsgate-exec.c), each command in its own cgroup under cgroupParent so a timeout, the
 * output cap or an abort kills its whole process tree, and whatever it leaves running is killed
 * when it exits. Concurrency is bounded by an ExecLimiter (EXEC_QUEUE_FULL beyond it).
 *
 * On a host with a cgroup v2 tree (v2 or hybrid), the per-exec cgroup lives in the unified
 * tree only: cgroup.kill is all a timeout needs, the helper forks the command straight into it
 * (clone3 CLONE_INTO_CGROUP, so nothing runs outside it even for a moment), and it costs one
 * mkdir instead of one per v1 hierarchy. On a v1-only host the helper waits until nsgate has
 * moved it into the cgroup (every hierarchy) before it does anything.
 */
export class NamespaceExecutor {
  readonly limiter: ExecLimiter;
  readonly limits: ExecLimits;
  readonly cgroupParent: string;
  readonly helperPath: string;
  /** Set when the helper failed its checks at start: exec answers it (503 EXEC_UNAVAILABLE). */
  readonly unavailable: NsgateError | undefined;
  /** What is spawned: the private copy of the helper opened at construction (see openHelper). */
  readonly helperExecPath: string;
  /** Every hierarchy of the host: a confined command joins the target in each. */
  private readonly hostCgroups: CgroupSystem;
  private readonly tree: CgroupSystem;
  private readonly cloneIntoCgroup: boolean;
  private readonly procOptions: ProcOptions;
  private readonly names: OwnNames;
  private readonly pending = new Set<Promise<unknown>>();
  private spare: Promise<string> | undefined;
  /** The unified tree's driver, when the host has one: the per-exec cgroups live there alone. */
  private readonly leafDriver: CgroupDriver | undefined;
  private parentReady = false;

  constructor(options: NamespaceExecutorOptions) {
    this.limits = execLimits(options.limits);
    this.limiter = options.limiter instanceof ExecLimiter ? options.limiter : new ExecLimiter(options.limiter ?? DEFAULT_EXEC_LIMITER);
    this.cgroupParent = parseCgroupPath(options.cgroupParent ?? DEFAULT_EXEC_CGROUP_PARENT);
    if (!options.cgroups.isManaged(joinCgroupPath(this.cgroupParent, 'x'))) {
      throw new NsgateError('CGROUP_NOT_MANAGED', `the exec cgroup parent ${this.cgroupParent} is not under a managed cgroup`, {
        path: this.cgroupParent,
        managed: options.cgroups.managed,
      });
    }
    const helper = openHelperOrReason(options.helperPath ?? defaultHelperPath());
    this.unavailable = helper instanceof NsgateError ? helper : undefined;
    this.helperPath = helper instanceof NsgateError ? (options.helperPath ?? defaultHelperPath()) : helper.path;
    this.helperExecPath = helper instanceof NsgateError ? '' : helper.execPath;
    this.hostCgroups = options.cgroups;
    this.procOptions = { procRoot: procRootOf(options) };
    this.names = ownNames(this.procOptions.procRoot!);
    const unified = options.cgroups.hierarchies.filter((h) => h.version === 2);
    this.cloneIntoCgroup = unified.length > 0;
    this.tree = this.cloneIntoCgroup
      ? new CgroupSystem({ hierarchies: unified, managed: options.cgroups.managed, procRoot: this.procOptions.procRoot })
      : options.cgroups;
    this.leafDriver = this.cloneIntoCgroup ? this.tree.drivers.find((d) => d.version === 2) : undefined;
  }

  /** Pins a process (see pinProcess): PROCESS_NOT_FOUND, KERNEL_THREAD, PROCESS_GONE. */
  pin(pid: number, expectedStartTimeTicks?: number): ProcessPin {
    return pinProcess(pid, { ...this.procOptions, expectedStartTimeTicks });
  }

  /** Validates a request against this executor's limits (VALIDATION_FAILED), filling the defaults. */
  parse(input: unknown, defaultNamespaces?: readonly NamespaceType[]): ExecRequest {
    return parseExecRequest(input, { limits: this.limits, defaultNamespaces });
  }

  /**
   * Runs request.argv in the target's namespaces and answers when it has ended (or was killed).
   * Refusals: VALIDATION_FAILED (the request, or a cwd/user the target cannot take), EXEC_QUEUE_FULL,
   * PROCESS_GONE (the target exited or its pid was reused since it was pinned),
   * EXEC_CONFINEMENT_UNAVAILABLE (a part of the target's confinement cannot be reproduced: nothing runs).
   * A command that cannot be found or run in the target is a result: exit 127 / 126.
   */
  async exec(target: ProcessPin, input: ExecRequestInput | ExecRequest, options: ExecRunOptions = {}): Promise<ExecResult> {
    if (this.unavailable) throw this.unavailable;
    const request = this.parse(input, options.defaultNamespaces);
    const release = await this.limiter.acquire(options.signal);
    let cleanup: Promise<unknown> | undefined;
    try {
      if (!request.privileged) return await this.runConfined(target, request, options);
      const run = await this.run(target, request, options);
      cleanup = run.cleanup;
      return run.result;
    } finally {
      // The slot is held until the command's cgroup is removed, so cgroups never outnumber slots.
      if (cleanup) this.track(cleanup.finally(release));
      else release();
    }
  }

  /** Resolves when every finished exec's cgroup has been removed (they go right after the answer). */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  /** Waits for running cleanups and removes the spare cgroup; exec keeps working (it makes a new one). */
  async close(): Promise<void> {
    await this.settled();
    const spare = this.spare;
    this.spare = undefined;
    const path = await spare?.catch(() => undefined);
    if (path) await this.removeCgroup(path);
    // a clean stop leaves no cgroup of nsgate's behind: the parent goes too when nothing is in it
    await this.tree.delete(this.cgroupParent).catch(() => undefined);
  }

  private track(p: Promise<unknown>): void {
    const tracked: Promise<unknown> = p.catch(() => undefined).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  /**
   * A fresh cgroup for one exec: the spare made in the background after the previous exec, or a
   * new one. Either way it is empty and used once.
   */
  private async takeCgroup(): Promise<string> {
    const spare = this.spare;
    this.spare = undefined;
    let path = await spare?.catch(() => undefined);
    if (!path) {
      path = this.newCgroupPath();
      await this.makeCgroup(path);
    }
    this.prepareSpare();
    return path;
  }

  /**
   * The per-exec cgroup is a leaf nsgate alone names and uses once, so it skips the facade's
   * create/delete bookkeeping (read-back of limits and stats, emptiness checks): one mkdir and
   * one rmdir through the driver, which still goes through the checked cgroup file door.
   */
  private async makeCgroup(path: string): Promise<void> {
    if (!this.leafDriver) {
      await this.tree.create(path);
      return;
    }
    if (!this.parentReady) {
      if (!this.tree.exists(this.cgroupParent)) await this.tree.create(this.cgroupParent).catch((err: unknown) => {
        if (!(err instanceof NsgateError && err.code === 'CGROUP_EXISTS')) throw err;
      });
      this.parentReady = true;
    }
    try {
      await this.leafDriver.create(path);
    } catch (err) {
      // The parent may have been removed under us (a sweep, an operator): make it again next time.
      this.parentReady = false;
      throw err;
    }
  }

  private prepareSpare(): void {
    if (this.spare) return;
    const path = this.newCgroupPath();
    const made = this.makeCgroup(path).then(() => path);
    made.catch(() => {
      if (this.spare === made) this.spare = undefined;
    });
    this.spare = made;
  }

  private newCgroupPath(): string {
    return joinCgroupPath(this.cgroupParent, this.names.next());
  }

  private async run(target: ProcessPin, request: ExecRequest, options: ExecRunOptions): Promise<{ result: ExecResult; cleanup: Promise<unknown> }> {
    assertPinned(target, this.procOptions);
    const path = await this.takeCgroup();
    let cgroupFd: number | undefined;
    let helper: HelperProcess | undefined;
    let killed: Promise<unknown> | undefined;
    let timedOut = false;
    const started = performance.now();
    const killTree = (): Promise<unknown> => (killed ??= this.killCgroup(path, helper));
    const onAbort = () => void killTree();
    let timer: NodeJS.Timeout | undefined;
    const cleanup = async () => {
      if (helper) helper.kill();
      await killed?.catch(() => undefined);
      await this.removeCgroup(path);
    };
    try {
      if (this.cloneIntoCgroup) cgroupFd = this.openCgroupDir(path);
      helper = new HelperProcess({
        helperPath: this.helperExecPath,
        args: this.helperArgs(target, request, cgroupFd !== undefined),
        cgroupFd,
        stdin: request.stdin,
        maxOutputBytes: request.maxOutputBytes,
        onOverflow: () => void killTree(),
      });
      const helperPid = await helper.spawned.catch((err: NodeJS.ErrnoException) => {
        throw new NsgateError('INTERNAL', `cannot start the exec helper ${this.helperPath}: ${err.code ?? err.message}`, { errno: err.code });
      });
      if (cgroupFd !== undefined) {
        closeSync(cgroupFd);
        cgroupFd = undefined;
      } else {
        await this.tree.moveProcess(path, helperPid, { ownHelper: true });
        helper.go();
      }
      timer = setTimeout(() => {
        timedOut = true;
        void killTree();
      }, request.timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.onStart) {
        void helper.commandStarted.then((commandPid) => {
          if (commandPid !== null) options.onStart!({ helperPid, commandPid, cgroupPath: path });
        });
      }
      await helper.exited;
      // The command is over; anything it left behind (daemons holding the output open) goes with its cgroup.
      if (this.hasProcesses(path)) await killTree();
      const outcome = await this.closed(helper);
      return { result: this.result(target, outcome, timedOut, performance.now() - started), cleanup: cleanup() };
    } catch (err) {
      await cleanup();
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (cgroupFd !== undefined) closeSync(cgroupFd);
    }
  }

  /**
   * The command with the target's confinement: the helper reads it from the kernel while it holds
   * the pinned process and applies it (native/nsgate-exec.c, enter --confine). The command joins
   * the target's cgroups in every hierarchy (charged to and limited by the container, as with
   * docker exec), so no per-exec cgroup ends its tree: it leads its own process group, which the
   * helper kills at the timeout, the output cap, an abort and when the command has ended.
   */
  private async runConfined(target: ProcessPin, request: ExecRequest, options: ExecRunOptions): Promise<ExecResult> {
    assertPinned(target, this.procOptions);
    let cgroupProcs: string[];
    try {
      cgroupProcs = this.targetCgroupProcs(target.pid);
    } catch (err) {
      throw this.goneOr(target, err);
    }
    const args = this.confinedArgs(target, request, options, cgroupProcs);
    let helper: HelperProcess | undefined;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const started = performance.now();
    const stop = () => helper?.terminate();
    try {
      helper = new HelperProcess({ helperPath: this.helperExecPath, args, stdin: request.stdin, maxOutputBytes: request.maxOutputBytes, onOverflow: stop });
      const helperPid = await helper.spawned.catch((err: NodeJS.ErrnoException) => {
        throw new NsgateError('INTERNAL', `cannot start the exec helper ${this.helperPath}: ${err.code ?? err.message}`, { errno: err.code });
      });
      timer = setTimeout(() => {
        timedOut = true;
        stop();
      }, request.timeoutMs);
      options.signal?.addEventListener('abort', stop, { once: true });
      if (options.onStart) {
        const cgroupPath = readProcessCgroups(target.pid, this.procOptions).find((m) => m.hierarchyId === 0)?.path ?? '';
        void helper.commandStarted.then((commandPid) => {
          if (commandPid !== null) options.onStart!({ helperPid, commandPid, cgroupPath });
        });
      }
      await helper.exited;
      const outcome = await this.closed(helper);
      return this.result(target, outcome, timedOut, performance.now() - started, request);
    } finally {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', stop);
      helper?.kill();
    }
  }

  private confinedArgs(target: ProcessPin, request: ExecRequest, options: ExecRunOptions, cgroupProcs: string[]): string[] {
    const args = ['enter', '--pid', String(target.pid), '--start-time', String(target.startTimeTicks), '--ns', request.namespaces.join(','), '--confine'];
    const lsm = this.targetLsm(target.pid);
    if (lsm) args.push('--lsm', lsm);
    for (const path of cgroupProcs) args.push('--join-cgroup', path);
    if (request.user) {
      args.push('--uid', String(request.user.uid), '--gid', String(request.user.gid));
      if (request.user.groups.length) args.push('--groups', request.user.groups.join(','));
    }
    if (request.cwd) args.push('--cwd', request.cwd);
    const env = { ...(options.baseEnv ?? {}), ...request.env };
    for (const entry of commandEnvironment(env)) args.push('-e', entry);
    args.push('--', ...request.argv);
    return args;
  }

  /**
   * A part of the confinement that could not be read because the target died meanwhile (its
   * cgroup removed, its seccomp filter gone with it) is PROCESS_GONE, as at any other moment of
   * the race; anything else stays what it was.
   */
  private goneOr(target: ProcessPin, err: unknown): unknown {
    if (!(err instanceof NsgateError && err.code === 'EXEC_CONFINEMENT_UNAVAILABLE')) return err;
    try {
      assertPinned(target, this.procOptions);
    } catch (gone) {
      return gone;
    }
    return err;
  }

  /** The cgroup.procs file of the target's cgroup in each hierarchy it lists, as host paths checked by the cgroup layer. */
  private targetCgroupProcs(pid: number): string[] {
    const memberships = readProcessCgroups(pid, this.procOptions);
    return memberships.map((m) => {
      const line = `${m.hierarchyId}:${m.controllers.join(',')}:${m.path}`;
      const h = this.hostCgroups.hierarchies.find((x) => membershipOf(m, x));
      if (!h) throw confinementUnavailable(pid, 'cgroups', `the hierarchy of ${line} is not mounted where nsgate can reach it`);
      const dir = this.hostCgroups.files.dir(h, m.path);
      if (!dir) throw confinementUnavailable(pid, 'cgroups', `the cgroup of ${line} cannot be found under ${h.mountPoint}`);
      return join(dir.fsPath, 'cgroup.procs');
    });
  }

  /** The labelling LSM the helper must speak to (`--lsm`), or null where the target has no label. */
  private targetLsm(pid: number): 'apparmor' | 'selinux' | null {
    let labels;
    try {
      labels = readProcessLsmLabels(pid, this.procOptions);
    } catch {
      return null; // the helper reads attr/current itself and refuses a label it was not told how to apply
    }
    if (labels.apparmor !== null) return 'apparmor';
    if (labels.current === null) return null;
    const name = lsmOfCurrentLabel(labels.current, readLsmList(DEFAULT_LSM_LIST_PATH));
    if (name !== 'apparmor' && name !== 'selinux') throw confinementUnavailable(pid, 'lsm', `the target is labelled by ${name}, which nsgate cannot apply to a command`);
    return name;
  }

  /**
   * Removes exec cgroups an nsgate process that is gone left (crash): kills what is inside first.
   * Another running nsgate's (the same internal cgroup given to two) are left alone.
   */
  async sweep(): Promise<string[]> {
    if (!this.tree.exists(this.cgroupParent)) return [];
    const removed: string[] = [];
    for (const node of this.tree.list({ under: this.cgroupParent, depth: 1 }).items) {
      if (node.depth !== 1 || this.names.ownerAlive(baseName(node.path))) continue;
      await this.tree.kill(node.path, { ownHelper: true }).catch(() => undefined);
      if (await this.removeCgroup(node.path)) removed.push(node.path);
    }
    return removed;
  }

  private helperArgs(target: ProcessPin, request: ExecRequest, cloneInto: boolean): string[] {
    const args = ['enter', '--pid', String(target.pid), '--start-time', String(target.startTimeTicks), '--ns', request.namespaces.join(',')];
    if (request.user) {
      args.push('--uid', String(request.user.uid), '--gid', String(request.user.gid));
      if (request.user.groups.length) args.push('--groups', request.user.groups.join(','));
    }
    if (request.cwd) args.push('--cwd', request.cwd);
    args.push(...(cloneInto ? ['--cgroup-fd', '4'] : ['--wait']));
    for (const entry of commandEnvironment(request.env)) args.push('-e', entry);
    args.push('--', ...request.argv);
    return args;
  }

  /** The per-exec cgroup's directory in the unified tree, opened through the cgroup layer's path checks. */
  private openCgroupDir(path: string): number {
    const h = this.tree.hierarchies.find((x) => x.version === 2)!;
    const dir = this.tree.files.dir(h, path);
    if (!dir) throw new NsgateError('CGROUP_GONE', `cgroup ${path} disappeared right after it was created`, { path });
    const fd = openSync(dir.fsPath, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    try {
      if (statfsSync(join(this.procOptions.procRoot!, 'self', 'fd', String(fd))).type !== CGROUP2_SUPER_MAGIC) {
        throw new NsgateError('INTERNAL', `${dir.fsPath} is not on a cgroup v2 filesystem`, { path });
      }
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return fd;
  }

  private hasProcesses(path: string): boolean {
    try {
      return this.tree.processes(path).length > 0;
    } catch {
      return false;
    }
  }

  /**
   * Kills the command's cgroup. The helper (outside it when it cloned the command in) then reaps
   * the command and reports the signal; should the command have left the cgroup, the helper is
   * killed after a moment, and the command with it (its parent-death signal is SIGKILL).
   */
  private async killCgroup(path: string, helper: HelperProcess | undefined): Promise<void> {
    try {
      await this.tree.kill(path, { timeoutMs: 5000, ownHelper: true });
    } finally {
      if (helper && this.cloneIntoCgroup) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([helper.exited, new Promise((resolve) => (timer = setTimeout(resolve, HELPER_REAP_GRACE_MS)))]);
        clearTimeout(timer);
      }
      helper?.kill();
    }
  }

  /**
   * Waits for the output to close. Everything that could hold it is in the cgroup, killed by now;
   * should something still hold it after a grace period (a process that left the cgroup), the
   * helper is killed and the output abandoned rather than waited on forever.
   */
  private async closed(helper: HelperProcess): Promise<HelperOutcome> {
    const grace = setTimeout(() => {
      helper.kill();
      helper.abandonOutput();
    }, HELPER_CLOSE_GRACE_MS);
    try {
      return await helper.done;
    } finally {
      clearTimeout(grace);
    }
  }

  private removeCgroup(path: string): Promise<boolean> {
    return removeOwnCgroup(
      async () => {
        if (this.leafDriver) await this.leafDriver.remove(path);
        else if (this.tree.exists(path)) await this.tree.delete(path);
      },
      () => this.tree.kill(path, { ownHelper: true }),
    );
  }


  private result(target: ProcessPin, outcome: HelperOutcome, timedOut: boolean, durationMs: number, request?: ExecRequest): ExecResult {
    const failure = outcome.errors.find((e) => e.stage !== 'exec');
    if (failure || (outcome.childPid === null && !timedOut)) throw this.goneOr(target, helperFailure(target, outcome, failure));
    let stderr = outcome.stderr.toString();
    const execError = outcome.errors.find((e) => e.stage === 'exec');
    if (execError && !outcome.stderr.truncated) stderr += `nsgate: cannot run ${execError.message}\n`;
    const status = outcome.command ?? outcome.helper;
    const clock = readProcessClock(this.procOptions);
    return {
      exitCode: status.exitCode,
      signal: status.signal,
      stdout: outcome.stdout.toString(),
      stderr,
      truncated: outcome.stdout.truncated || outcome.stderr.truncated,
      timedOut,
      durationMs: Math.round(durationMs * 1000) / 1000,
      namespaces: outcome.entered ?? {},
      target: { pid: target.pid, startTimeTicks: target.startTimeTicks, startTime: startTimeToIso(target.startTimeTicks, clock) },
      confinement: request && !request.privileged ? commandConfinement(target, outcome, request) : { mode: 'privileged' },
    };
  }
}

/** Parts of a target's confinement, as EXEC_CONFINEMENT_UNAVAILABLE names them. */
export type ConfinementPart = 'user' | 'groups' | 'capabilities' | 'no_new_privs' | 'lsm' | 'seccomp' | 'rlimits' | 'oom_score_adj' | 'cgroups';

export function confinementUnavailable(pid: number, part: string, why: string, details: Record<string, unknown> = {}): NsgateError {
  return new NsgateError('EXEC_CONFINEMENT_UNAVAILABLE', `the ${part} of process ${pid} cannot be given to the command (${why}); nothing was run`, { pid, part, ...details });
}

function commandConfinement(target: ProcessPin, outcome: HelperOutcome, request: ExecRequest): ExecConfinement {
  const applied = outcome.confinement;
  if (!applied) throw new NsgateError('INTERNAL', `the exec helper did not report the confinement it applied to process ${target.pid}'s command`, { pid: target.pid });
  const user = request.user;
  return user ? { mode: 'target', ...applied, uid: [user.uid, user.uid, user.uid, user.uid], gid: [user.gid, user.gid, user.gid, user.gid], groups: user.groups } : { mode: 'target', ...applied };
}

/** What the helper refused or failed at, in nsgate's error vocabulary. */
export function helperFailure(target: Pick<ProcessPin, 'pid' | 'startTimeTicks'>, outcome: HelperOutcome, failure = outcome.errors[0]): NsgateError {
  const details = { pid: target.pid, startTimeTicks: target.startTimeTicks, stage: failure?.stage, errno: failure?.errno ?? undefined };
  const message = failure?.message ?? '';
  switch (failure?.stage) {
    case 'confine': {
      const part = /^([a-z_]+):/.exec(message)?.[1] ?? 'confinement';
      return confinementUnavailable(target.pid, part, message.slice(part.length + 1).trim(), { errno: failure.errno ?? undefined });
    }
    case 'gone':
      return new NsgateError('PROCESS_GONE', `process ${target.pid} is gone or is no longer the pinned process: ${message}`, details);
    case 'cwd':
      return new NsgateError('VALIDATION_FAILED', `cwd: the target cannot use it: ${message}`, { ...details, field: 'cwd' });
    case 'creds':
      return new NsgateError('VALIDATION_FAILED', `user: the target cannot take it: ${message}`, { ...details, field: 'user' });
    case 'setns':
      if (failure.errno === 'EPERM' || failure.errno === 'EACCES') {
        return new NsgateError('KERNEL_PERMISSION_DENIED', `the kernel refused to enter the namespaces of process ${target.pid}: ${message}`, details);
      }
      if (failure.errno === 'EINVAL') {
        return new NsgateError('KERNEL_INVALID_ARGUMENT', `the kernel refused to enter these namespaces of process ${target.pid}: ${message}`, details);
      }
      break;
  }
  const helper = outcome.helper;
  return new NsgateError('INTERNAL', `the exec helper failed${failure ? ` (${failure.stage}): ${message}` : ` (exit ${helper.exitCode ?? helper.signal})`}`, {
    ...details,
    helperExit: helper.exitCode ?? undefined,
    helperSignal: helper.signal ?? undefined,
    setupFailed: helper.exitCode === HELPER_SETUP_FAILED,
  });
}
