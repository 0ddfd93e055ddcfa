import { type ChildProcess, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { NsgateError } from '../errors.js';

/*
 * PSI pressure triggers. The kernel's own: write "<some|full> <stall µs> <window µs>" to a
 * cgroup's <resource>.pressure and wait for POLLPRI on that open file; it fires at most once per
 * window when tasks were stalled for stall µs within it. Node cannot wait for POLLPRI on a file
 * (and inotify does not report these events), so a small native helper (nsgate-psi, one for all
 * triggers) holds the files and says "fire <id>". Where the kernel refuses (no unified tree, no
 * PSI for the cgroup, or a window it does not take: without CAP_SYS_RESOURCE it wants whole
 * multiples of 2 s) or the helper is not there, the trigger polls the cgroup's PSI `total`
 * counter instead, once a second, with the same rule; its `mode` says which.
 */

export const RESOURCES = ['memory', 'cpu', 'io'] as const;
export const KINDS = ['some', 'full'] as const;
export type PressureResource = (typeof RESOURCES)[number];
export type PressureKind = (typeof KINDS)[number];

export interface TriggerSpec {
  resource: PressureResource;
  kind: PressureKind;
  stallUs: number;
  windowUs: number;
}

/** The kernel's bounds on a trigger's window (kernel/sched/psi.c). */
export const MIN_WINDOW_US = 500_000;
export const MAX_WINDOW_US = 10_000_000;

export type TriggerMode = 'kernel' | 'polling';

export interface TriggerState {
  id: number;
  cgroupPath: string;
  spec: TriggerSpec;
  mode: TriggerMode;
  /** Why it polls (null in kernel mode). */
  modeReason: string | null;
  armedAt: string;
  fired: number;
  lastFiredAt: string | null;
}

export interface PressureTriggersOptions {
  /** The nsgate-psi binary; null: poll only. */
  helperPath: string | null;
  /** The filesystem path of the cgroup's <resource>.pressure in the unified tree, or null when it has none. */
  pressureFile: (cgroupPath: string, resource: PressureResource) => string | null;
  /** The cgroup's PSI total (µs) of resource/kind now, or null when it cannot be read (gone, no PSI). */
  readTotal: (cgroupPath: string, resource: PressureResource, kind: PressureKind) => number | null;
  onFire: (state: TriggerState) => void;
  /** The cgroup went away: the trigger was dropped. */
  onGone?: (state: TriggerState) => void;
  log?: (message: string) => void;
  pollMs?: number;
}

interface Entry {
  state: TriggerState;
  /** Polling: (at ms, total µs) readings covering the last window. */
  readings: { at: number; total: number }[];
  lastFireMs: number;
}

/** Checks a spec as the kernel would; VALIDATION_FAILED otherwise. */
export function parseTriggerSpec(input: unknown): TriggerSpec {
  const b = (input ?? {}) as Record<string, unknown>;
  const resource = b.resource as PressureResource;
  const kind = b.kind as PressureKind;
  const stallUs = b.stallUs as number;
  const windowUs = b.windowUs as number;
  if (!RESOURCES.includes(resource)) throw new NsgateError('VALIDATION_FAILED', `resource must be one of ${RESOURCES.join(', ')}`, { field: 'resource' });
  if (!KINDS.includes(kind)) throw new NsgateError('VALIDATION_FAILED', 'kind must be some or full', { field: 'kind' });
  if (!Number.isSafeInteger(windowUs) || windowUs < MIN_WINDOW_US || windowUs > MAX_WINDOW_US) {
    throw new NsgateError('VALIDATION_FAILED', `windowUs must be an integer from ${MIN_WINDOW_US} to ${MAX_WINDOW_US}`, { field: 'windowUs' });
  }
  if (!Number.isSafeInteger(stallUs) || stallUs <= 0 || stallUs >= windowUs) {
    throw new NsgateError('VALIDATION_FAILED', 'stallUs must be an integer above 0 and below windowUs', { field: 'stallUs' });
  }
  return { resource, kind, stallUs, windowUs };
}

const ERRNO: Record<number, string> = { 2: 'ENOENT', 13: 'EACCES', 22: 'EINVAL', 28: 'ENOSPC', 95: 'EOPNOTSUPP' };

export class PressureTriggers {
  private readonly entries = new Map<number, Entry>();
  private nextId = 1;
  private helper: ChildProcess | null = null;
  private helperBroken: string | null = null;
  private readonly answers = new Map<number, (errno: number) => void>();
  private timer: NodeJS.Timeout | undefined;
  private readonly pollMs: number;

  constructor(private readonly options: PressureTriggersOptions) {
    this.pollMs = options.pollMs ?? 1000;
    if (options.helperPath === null) this.helperBroken = 'no nsgate-psi helper was built';
  }

  list(): TriggerState[] {
    return [...this.entries.values()].map((e) => ({ ...e.state }));
  }

  get(id: number): TriggerState | undefined {
    const e = this.entries.get(id);
    return e && { ...e.state };
  }

  /** Arms a trigger: the kernel's where it takes it, else polling (and says why). */
  async add(cgroupPath: string, spec: TriggerSpec): Promise<TriggerState> {
    const id = this.nextId++;
    const state: TriggerState = { id, cgroupPath, spec, mode: 'polling', modeReason: null, armedAt: new Date().toISOString(), fired: 0, lastFiredAt: null };
    const file = this.options.pressureFile(cgroupPath, spec.resource);
    if (file === null) {
      state.modeReason = `the cgroup has no ${spec.resource}.pressure in a cgroup v2 tree: nsgate reads its PSI totals once a second`;
    } else {
      const why = await this.arm(id, file, spec);
      if (why === null) state.mode = 'kernel';
      else state.modeReason = why;
    }
    if (state.mode === 'polling' && this.options.readTotal(cgroupPath, spec.resource, spec.kind) === null) {
      throw new NsgateError('CONTROLLER_UNAVAILABLE', `cgroup ${cgroupPath} has no ${spec.resource} pressure (PSI) nsgate can read`, { path: cgroupPath, resource: spec.resource });
    }
    this.entries.set(id, { state, readings: [], lastFireMs: 0 });
    if (state.mode === 'polling') this.ensurePolling();
    return { ...state };
  }

  remove(id: number): boolean {
    const e = this.entries.get(id);
    if (!e) return false;
    this.entries.delete(id);
    if (e.state.mode === 'kernel') this.helper?.stdin?.write(`del ${id}\n`);
    return true;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.entries.clear();
    const helper = this.helper;
    this.helper = null;
    if (helper && helper.exitCode === null) {
      helper.stdin?.end();
      // it exits on stdin's end; the signal only if it has not
      setTimeout(() => helper.exitCode === null && helper.pid !== undefined && helper.kill('SIGKILL'), 1000).unref();
    }
  }

  /** null when the kernel took it; else why not. */
  private async arm(id: number, file: string, spec: TriggerSpec): Promise<string | null> {
    const helper = this.ensureHelper();
    if (!helper) return `the trigger helper is unavailable (${this.helperBroken}): nsgate reads the PSI totals once a second`;
    const errno = await new Promise<number>((resolve) => {
      const timer = setTimeout(() => {
        this.answers.delete(id);
        resolve(-1);
      }, 5000);
      this.answers.set(id, (e) => {
        clearTimeout(timer);
        resolve(e);
      });
      helper.stdin!.write(`add ${id} ${file} ${spec.kind} ${spec.stallUs} ${spec.windowUs}\n`);
    });
    if (errno === 0) return null;
    const name = ERRNO[errno] ?? (errno < 0 ? 'no answer' : `errno ${errno}`);
    const hint = errno === 22 ? ' (without CAP_SYS_RESOURCE the kernel takes only windows in whole multiples of 2 s)' : '';
    return `the kernel refused the trigger: ${name}${hint}; nsgate reads the PSI totals once a second instead`;
  }

  private ensureHelper(): ChildProcess | null {
    if (this.helper) return this.helper;
    if (this.helperBroken) return null;
    const path = this.options.helperPath!;
    try {
      const st = statSync(path);
      // root's own, written by nobody else: it runs as root
      if (!st.isFile() || st.uid !== 0 || (st.mode & 0o022) !== 0) throw new Error(`${path} must be a root-owned file nobody else may write`);
    } catch (err) {
      this.helperBroken = (err as Error).message;
      this.options.log?.(`pressure triggers poll: ${this.helperBroken}`);
      return null;
    }
    const child = spawn(path, [], { stdio: ['pipe', 'pipe', 'ignore'], env: {}, cwd: '/' });
    this.helper = child;
    child.on('error', (err) => this.helperGone(child, err.message));
    child.on('exit', (code, signal) => this.helperGone(child, `exited (${signal ?? code})`));
    child.stdin!.on('error', () => undefined);
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
    return child;
  }

  /** The helper died: every kernel trigger polls from now on (and says so). */
  private helperGone(child: ChildProcess, why: string): void {
    if (this.helper !== child) return;
    this.helper = null;
    this.helperBroken = `the trigger helper ${why}`;
    this.options.log?.(`pressure triggers: ${this.helperBroken}; polling instead`);
    for (const resolve of this.answers.values()) resolve(-1);
    this.answers.clear();
    for (const e of this.entries.values()) {
      if (e.state.mode !== 'kernel') continue;
      e.state.mode = 'polling';
      e.state.modeReason = `${this.helperBroken}: nsgate reads the PSI totals once a second`;
    }
    if (this.entries.size) this.ensurePolling();
  }

  private onLine(line: string): void {
    const [verb, idText, errText] = line.split(' ');
    const id = Number(idText);
    if (verb === 'ok' || verb === 'err') {
      const answer = this.answers.get(id);
      this.answers.delete(id);
      answer?.(verb === 'ok' ? 0 : Number(errText));
      return;
    }
    const e = this.entries.get(id);
    if (!e) return;
    if (verb === 'fire') this.fire(e);
    else if (verb === 'gone') {
      this.entries.delete(id);
      this.options.onGone?.({ ...e.state });
    }
  }

  private fire(e: Entry): void {
    e.state.fired++;
    e.state.lastFiredAt = new Date().toISOString();
    this.options.onFire({ ...e.state });
  }

  private ensurePolling(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  /** The kernel's rule on the totals: stalled ≥ stallUs within the last window, at most one event per window. */
  private poll(): void {
    const now = Date.now();
    let polling = 0;
    for (const e of this.entries.values()) {
      if (e.state.mode !== 'polling') continue;
      polling++;
      const { cgroupPath, spec } = e.state;
      let total: number | null;
      try {
        total = this.options.readTotal(cgroupPath, spec.resource, spec.kind);
      } catch {
        total = null;
      }
      if (total === null) {
        this.entries.delete(e.state.id);
        this.options.onGone?.({ ...e.state });
        continue;
      }
      const windowMs = spec.windowUs / 1000;
      e.readings.push({ at: now, total });
      while (e.readings.length > 1 && now - e.readings[1]!.at >= windowMs) e.readings.shift();
      const oldest = e.readings[0]!;
      if (total - oldest.total >= spec.stallUs && now - e.lastFireMs >= windowMs) {
        e.lastFireMs = now;
        this.fire(e);
      }
    }
    if (polling === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
