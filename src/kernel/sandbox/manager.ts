import { readFileSync } from 'node:fs';
import { basename as baseName, join } from 'node:path';
import { capabilityBit } from '../capabilities.js';
import type { Limits, Stats } from '../cgroups/driver.js';
import { type OwnNames, ownNames } from '../cgroups/own-names.js';
import { removeOwnCgroup } from '../cgroups/remove.js';
import { joinCgroupPath, parseCgroupPath } from '../cgroups/paths.js';
import type { CgroupSystem } from '../cgroups/system.js';
import { NsgateError } from '../errors.js';
import { defaultHelperPath, openHelperOrReason, type HelperOutcome, HelperProcess } from '../exec/helper.js';
import { commandEnvironment, type ExecLimits, execLimits, type ExecUser } from '../exec/request.js';
import type { NamespaceType } from '../procfs/namespace-types.js';
import { type ProcOptions, procRootOf } from '../procfs/proc-file.js';
import { parseSandboxRequest, type SandboxRequest, type SandboxUserns } from './request.js';

/** Where sandboxes' cgroups go when nothing else is configured; the containers recogniser knows this path. */
export const DEFAULT_SANDBOX_CGROUP_PARENT = '/nsgate/sandboxes';

const OUTPUT_CLOSE_GRACE_MS = 2000;

/**
 * starting: cgroup made, helper not yet past setup; running: the command runs;
 * exited: it ended by itself (exitCode or signal); killed: nsgate killed it (delete, timeout,
 * output cap); oom-killed: the kernel's OOM killer ended it inside the sandbox's memory limit.
 */
export type SandboxState = 'starting' | 'running' | 'exited' | 'killed' | 'oom-killed';

export type SandboxKillReason = 'delete' | 'timeout' | 'output';

export interface SandboxSummary {
  id: string;
  cgroupPath: string;
  state: SandboxState;
  /** The host pid of the sandbox's first process (PID 1 inside when it has a pid namespace). */
  pid: number | null;
  argv: string[];
  createdAt: string;
  finishedAt: string | null;
  exitCode: number | null;
  signal: string | null;
  killedBy: SandboxKillReason | null;
  truncated: boolean;
}

export interface SandboxInfo extends SandboxSummary {
  namespaces: NamespaceType[];
  hostname: string | null;
  rootfs: string | null;
  capabilities: string[];
  noNewPrivs: boolean;
  readOnlyRoot: boolean;
  /** The user namespace's mapping (root inside is host uid `base`), or null without one. */
  userns: SandboxUserns | null;
  user: ExecUser | null;
  stdout: string;
  stderr: string;
  /** As the cgroup reads now (null once it is gone). */
  limits: Limits | null;
  stats: Stats | null;
}

export interface SandboxManagerOptions {
  /** The host's cgroups; its managed prefixes must cover `parent`. */
  cgroups: CgroupSystem;
  /** Default /nsgate/sandboxes. */
  parent?: string;
  helperPath?: string;
  /** Sandboxes held at once, finished ones included until deleted; default 32. */
  maxSandboxes?: number;
  limits?: Partial<ExecLimits>;
  procRoot?: string;
}

interface SandboxRecord {
  id: string;
  path: string;
  request: SandboxRequest;
  state: SandboxState;
  pid: number | null;
  helper: HelperProcess;
  createdAt: string;
  finishedAt: string | null;
  exitCode: number | null;
  signal: string | null;
  killedBy: SandboxKillReason | null;
  outcome: HelperOutcome | null;
  /** Resolves when the sandbox has ended and its cgroup holds no process. */
  finished: Promise<void>;
  timer?: NodeJS.Timeout;
  killing?: Promise<unknown>;
}

/**
 * The tutorial's `unshare --fork --pid --mount-proc` as a managed thing: each sandbox gets a
 * cgroup parent/<id> with its limits, and nsgate-exec (native/nsgate-exec.c) is moved into it
 * before it does anything, then makes the namespaces, mounts a read-only /proc for the new pid
 * namespace, pivots into the rootfs if one is given, makes the tree read-only, drops every
 * capability but the kept ones, sets no_new_privs and closes every descriptor but 0, 1, 2
 * before the command runs. No user code ever runs outside the cgroup.
 * Sandboxes live in memory (a restart forgets them; sweep() removes their cgroups).
 */
export class SandboxManager {
  readonly parent: string;
  readonly helperPath: string;
  /** Set when the helper failed its checks at start: exec answers it (503 EXEC_UNAVAILABLE). */
  readonly unavailable: NsgateError | undefined;
  private readonly helperExecPath: string;
  readonly maxSandboxes: number;
  readonly limits: ExecLimits;
  private readonly cgroups: CgroupSystem;
  private readonly procOptions: ProcOptions;
  private readonly names: OwnNames;
  private readonly sandboxes = new Map<string, SandboxRecord>();
  private reserved = 0;
  private lastCapCache: number | undefined;

  constructor(options: SandboxManagerOptions) {
    this.cgroups = options.cgroups;
    this.parent = parseCgroupPath(options.parent ?? DEFAULT_SANDBOX_CGROUP_PARENT);
    if (!this.cgroups.isManaged(joinCgroupPath(this.parent, 'x'))) {
      throw new NsgateError('CGROUP_NOT_MANAGED', `the sandbox cgroup parent ${this.parent} is not under a managed cgroup`, {
        path: this.parent,
        managed: this.cgroups.managed,
      });
    }
    const helper = openHelperOrReason(options.helperPath ?? defaultHelperPath());
    this.unavailable = helper instanceof NsgateError ? helper : undefined;
    this.helperPath = helper instanceof NsgateError ? (options.helperPath ?? defaultHelperPath()) : helper.path;
    this.helperExecPath = helper instanceof NsgateError ? '' : helper.execPath;
    this.maxSandboxes = options.maxSandboxes ?? 32;
    if (!Number.isSafeInteger(this.maxSandboxes) || this.maxSandboxes < 1) throw new NsgateError('INTERNAL', 'maxSandboxes must be a positive integer');
    this.limits = execLimits(options.limits);
    this.procOptions = { procRoot: procRootOf(options) };
    this.names = ownNames(this.procOptions.procRoot!);
  }

  /** The kernel's highest capability number (/proc/sys/kernel/cap_last_cap). */
  private lastCap(): number {
    if (this.lastCapCache === undefined) {
      const n = Number(readFileSync(join(this.procOptions.procRoot!, 'sys', 'kernel', 'cap_last_cap'), 'utf8').trim());
      this.lastCapCache = Number.isSafeInteger(n) && n > 0 && n < 64 ? n : 40;
    }
    return this.lastCapCache;
  }

  /** Validates a request (VALIDATION_FAILED) without starting anything. */
  parse(input: unknown): SandboxRequest {
    return parseSandboxRequest(input, { limits: this.limits, lastCap: this.lastCap() });
  }

  /**
   * Starts a sandbox and answers once its command runs (state running), or has already ended.
   * Refusals: VALIDATION_FAILED, LIMIT_INVALID (limits), CONFLICT (maxSandboxes held: delete some),
   * and the cgroup layer's errors. A setup failure removes the cgroup again.
   */
  async create(input: unknown): Promise<SandboxInfo> {
    if (this.unavailable) throw this.unavailable;
    const request = this.parse(input);
    if (this.sandboxes.size + this.reserved >= this.maxSandboxes) {
      throw new NsgateError('CONFLICT', `${this.maxSandboxes} sandboxes exist already; delete finished ones first`, { maxSandboxes: this.maxSandboxes });
    }
    this.reserved++;
    try {
      return await this.start(request);
    } finally {
      this.reserved--;
    }
  }

  private async start(request: SandboxRequest): Promise<SandboxInfo> {
    // the id names the cgroup, and the nsgate process that made it (for the sweep at start)
    const id = this.names.next('sb-');
    const path = joinCgroupPath(this.parent, id);
    await this.cgroups.create(path, request.limits === undefined ? {} : { limits: request.limits });
    let record: SandboxRecord | undefined;
    const helper = new HelperProcess({
      helperPath: this.helperExecPath,
      args: this.helperArgs(request),
      stdin: request.stdin,
      maxOutputBytes: request.maxOutputBytes,
      onOverflow: () => {
        if (record) void this.kill(record, 'output');
        else helper.kill();
      },
    });
    try {
      const helperPid = await helper.spawned.catch((err: NodeJS.ErrnoException) => {
        throw new NsgateError('INTERNAL', `cannot start the sandbox helper ${this.helperPath}: ${err.code ?? err.message}`, { errno: err.code });
      });
      // Into the cgroup (every hierarchy) while it waits; only then does it unshare and run anything.
      await this.cgroups.moveProcess(path, helperPid, { ownHelper: true });
      helper.go();
      const pid = await helper.commandStarted;
      if (pid === null) throw setupFailure(await helper.done);
      record = {
        id,
        path,
        request,
        state: 'running',
        pid,
        helper,
        createdAt: new Date().toISOString(),
        finishedAt: null,
        exitCode: null,
        signal: null,
        killedBy: null,
        outcome: null,
        finished: Promise.resolve(),
      };
      const rec = record;
      rec.finished = this.follow(rec);
      if (request.timeoutMs !== undefined) {
        rec.timer = setTimeout(() => void this.kill(rec, 'timeout'), request.timeoutMs);
        rec.timer.unref?.();
      }
      this.sandboxes.set(id, rec);
      return this.info(rec);
    } catch (err) {
      helper.kill();
      await helper.exited.catch(() => undefined);
      await this.cgroups.kill(path, { ownHelper: true }).catch(() => undefined);
      await this.removeCgroup(path);
      throw err;
    }
  }

  /** Every sandbox, oldest first, without output. */
  list(): SandboxSummary[] {
    return [...this.sandboxes.values()].map((r) => this.summary(r));
  }

  /** One sandbox with its output so far, limits and stats (NOT_FOUND if unknown). */
  get(id: string): SandboxInfo {
    return this.info(this.record(id));
  }

  /** Resolves with the sandbox once it has ended (or at timeoutMs with it as it is then). */
  async wait(id: string, timeoutMs?: number): Promise<SandboxInfo> {
    const record = this.record(id);
    if (timeoutMs === undefined) await record.finished;
    else {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([record.finished, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    }
    return this.info(record);
  }

  /** Kills what runs, removes the cgroup, forgets the sandbox; answers with its last state (stats read before removal). */
  async delete(id: string): Promise<SandboxInfo> {
    const record = this.record(id);
    if (record.state === 'running' || record.state === 'starting') await this.kill(record, 'delete');
    await record.finished;
    const last = this.info(record);
    if (!(await this.removeCgroup(record.path))) {
      throw new NsgateError('CGROUP_BUSY', `the cgroup of sandbox ${id} could not be removed`, { id, path: record.path });
    }
    this.sandboxes.delete(id);
    return last;
  }

  /** Deletes every sandbox (service shutdown). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.sandboxes.keys()].map((id) => this.delete(id)));
    // a clean stop leaves no cgroup of nsgate's behind: the parent goes too when nothing is in it
    await this.cgroups.delete(this.parent).catch(() => undefined);
  }

  /**
   * Removes sandbox cgroups nobody holds (left by an nsgate process that is gone): call once at
   * start. Another running nsgate's (the same internal cgroup given to two) are left alone.
   */
  async sweep(): Promise<string[]> {
    if (!this.cgroups.exists(this.parent)) return [];
    const known = new Set([...this.sandboxes.values()].map((r) => r.path));
    const removed: string[] = [];
    for (const node of this.cgroups.list({ under: this.parent, depth: 1 }).items) {
      if (node.depth !== 1 || known.has(node.path) || this.names.ownerAlive(baseName(node.path))) continue;
      await this.cgroups.kill(node.path, { ownHelper: true }).catch(() => undefined);
      if (await this.removeCgroup(node.path)) removed.push(node.path);
    }
    return removed;
  }

  private record(id: string): SandboxRecord {
    const record = typeof id === 'string' ? this.sandboxes.get(id) : undefined;
    if (!record) throw new NsgateError('NOT_FOUND', `no sandbox ${JSON.stringify(String(id).slice(0, 64))}`, { id: String(id).slice(0, 64) });
    return record;
  }

  private helperArgs(request: SandboxRequest): string[] {
    const args = ['sandbox', '--ns', request.namespaces.join(','), '--wait'];
    if (request.hostname) args.push('--hostname', request.hostname);
    if (request.rootfs) args.push('--root', request.rootfs);
    args.push('--caps', request.capabilities.length ? request.capabilities.map((c) => String(capabilityBit(c))).join(',') : 'none');
    if (request.noNewPrivs) args.push('--nnp');
    if (request.readOnlyRoot) args.push('--readonly');
    if (request.user) args.push('--uid', String(request.user.uid), '--gid', String(request.user.gid));
    if (request.userns) args.push('--userns', `${request.userns.base}:${request.userns.count}`);
    for (const entry of commandEnvironment(request.env)) args.push('-e', entry);
    args.push('--', ...request.argv);
    return args;
  }

  private kill(record: SandboxRecord, reason: SandboxKillReason): Promise<unknown> {
    if (record.state !== 'running' && record.state !== 'starting') return Promise.resolve();
    record.killedBy ??= reason;
    record.killing ??= this.cgroups.kill(record.path, { ownHelper: true }).catch(() => record.helper.kill());
    return record.killing;
  }

  /** Follows a running sandbox to its end: state, exit, leftovers killed (the cgroup stays, for stats, until delete). */
  private async follow(record: SandboxRecord): Promise<void> {
    await record.helper.exited;
    if (this.hasProcesses(record.path)) await this.cgroups.kill(record.path, { ownHelper: true }).catch(() => undefined);
    // Everything that could hold the output is dead now; a straggler outside the cgroup is not waited on.
    const grace = setTimeout(() => record.helper.abandonOutput(), OUTPUT_CLOSE_GRACE_MS);
    const outcome = await record.helper.done.catch(() => null);
    clearTimeout(grace);
    if (record.timer) clearTimeout(record.timer);
    await record.killing?.catch(() => undefined);
    record.outcome = outcome;
    const status = outcome?.command ?? outcome?.helper ?? { exitCode: null, signal: null };
    record.exitCode = status.exitCode;
    record.signal = status.signal;
    record.finishedAt = new Date().toISOString();
    if (record.killedBy) record.state = 'killed';
    else if (status.signal === 'SIGKILL' && this.oomKills(record.path) > 0) record.state = 'oom-killed';
    else record.state = 'exited';
  }

  private oomKills(path: string): number {
    try {
      return this.cgroups.readStats(path).memory?.oomKills ?? 0;
    } catch {
      return 0;
    }
  }

  private hasProcesses(path: string): boolean {
    try {
      return this.cgroups.processes(path).length > 0;
    } catch {
      return false;
    }
  }

  private removeCgroup(path: string): Promise<boolean> {
    return removeOwnCgroup(
      async () => {
        if (this.cgroups.exists(path)) await this.cgroups.delete(path);
      },
      () => this.cgroups.kill(path, { ownHelper: true }),
    );
  }


  private summary(r: SandboxRecord): SandboxSummary {
    return {
      id: r.id,
      cgroupPath: r.path,
      state: r.state,
      pid: r.pid,
      argv: [...r.request.argv],
      createdAt: r.createdAt,
      finishedAt: r.finishedAt,
      exitCode: r.exitCode,
      signal: r.signal,
      killedBy: r.killedBy,
      truncated: r.helper.outputTruncated,
    };
  }

  private info(r: SandboxRecord): SandboxInfo {
    let limits: Limits | null = null;
    let stats: Stats | null = null;
    try {
      limits = this.cgroups.readLimits(r.path);
      stats = this.cgroups.readStats(r.path);
    } catch {
      // removed, or being removed
    }
    const execError = r.outcome?.errors.find((e) => e.stage === 'exec');
    return {
      ...this.summary(r),
      namespaces: [...r.request.namespaces],
      hostname: r.request.hostname ?? null,
      rootfs: r.request.rootfs ?? null,
      capabilities: [...r.request.capabilities],
      noNewPrivs: r.request.noNewPrivs,
      readOnlyRoot: r.request.readOnlyRoot,
      userns: r.request.userns ?? null,
      user: r.request.user ?? null,
      stdout: r.helper.stdout.toString(),
      stderr: r.helper.stderr.toString() + (execError ? `nsgate: cannot run ${execError.message}\n` : ''),
      limits,
      stats,
    };
  }
}

/** A sandbox that never got to run its command, in nsgate's error vocabulary. */
function setupFailure(outcome: HelperOutcome): NsgateError {
  const failure = outcome.errors[0];
  const details = { stage: failure?.stage, errno: failure?.errno ?? undefined };
  const message = failure ? `${failure.stage}: ${failure.message}` : `the sandbox helper ended (exit ${outcome.helper.exitCode ?? outcome.helper.signal})`;
  switch (failure?.stage) {
    case 'root':
      return new NsgateError('VALIDATION_FAILED', `rootfs: cannot enter it: ${failure.message}`, { ...details, field: 'rootfs' });
    case 'hostname':
      return new NsgateError('VALIDATION_FAILED', `hostname: ${failure.message}`, { ...details, field: 'hostname' });
    case 'creds':
      return new NsgateError('VALIDATION_FAILED', `user: ${failure.message}`, { ...details, field: 'user' });
  }
  if (failure?.errno === 'EPERM' || failure?.errno === 'EACCES') {
    return new NsgateError('KERNEL_PERMISSION_DENIED', `the kernel refused to set up the sandbox: ${message}`, details);
  }
  return new NsgateError('INTERNAL', `the sandbox could not be set up: ${message}`, details);
}
