import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ContainersService } from '../containers/containers.service.js';
import { type ExecResult, hostNamespaceInodes, NamespaceExecutor, unsharedNamespaces } from '../kernel/exec/index.js';
import { type SandboxInfo, SandboxManager } from '../kernel/sandbox/index.js';
import type { ExecBody, SandboxBody } from './dto/exec.dto.js';
import type { ExecResultModel, SandboxDetailModel } from './exec.models.js';

/** The pieces an exec answer and its audit line share; never the output. */
export function execOutcome(result: unknown): unknown {
  const r = result as ExecResultModel;
  return { exitCode: r.exitCode, signal: r.signal, truncated: r.truncated, timedOut: r.timedOut, durationMs: r.durationMs, namespaces: r.namespaces, target: r.target, confinement: r.confinement };
}

function toModel(result: ExecResult): ExecResultModel {
  return {
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: result.stdout,
    stderr: result.stderr,
    truncated: result.truncated,
    timedOut: result.timedOut,
    durationMs: Math.round(result.durationMs),
    namespaces: Object.fromEntries(Object.entries(result.namespaces).map(([type, inode]) => [type, Number(inode)])),
    target: { pid: result.target.pid, startTime: result.target.startTime },
    confinement: result.confinement,
  };
}

/** Docker's `["NAME=value", ...]` as variables (a later entry wins, as in a process's environment). */
function environmentOf(entries: readonly string[] | null): Record<string, string> | undefined {
  if (!entries) return undefined;
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** Exec in namespaces and sandboxes: the admin's nsenter and unshare. */
@Injectable()
export class ExecService implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly executor: NamespaceExecutor,
    private readonly sandboxes: SandboxManager,
    private readonly containers: ContainersService,
  ) {}

  /** Cgroups a crashed nsgate left behind are removed before anything new is made. */
  async onApplicationBootstrap(): Promise<void> {
    // a helper that failed its checks disables exec (503 EXEC_UNAVAILABLE), not the service
    if (this.executor.unavailable) new Logger('exec').error(this.executor.unavailable.message);
    await Promise.all([this.executor.sweep(), this.sandboxes.sweep()]);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.executor.close(), this.sandboxes.close()]);
  }

  /** Pins the process first: a pid reused by another process is never entered. */
  async execInProcess(pid: number, body: ExecBody, signal?: AbortSignal): Promise<ExecResultModel> {
    const pin = this.executor.pin(pid);
    return toModel(await this.executor.exec(pin, body as never, { signal }));
  }

  /** Into the container's init process, by default in every namespace it does not share with the host. */
  async execInContainer(idOrName: string, body: ExecBody, signal?: AbortSignal): Promise<ExecResultModel> {
    const container = await this.containers.initPid(idOrName);
    // the start time the live model took with the pid: a pid reused since is PROCESS_GONE, never entered
    const pin = this.executor.pin(container.pid, container.startTimeTicks ?? undefined);
    const own = unsharedNamespaces(pin.namespaces, hostNamespaceInodes());
    // Like docker exec: a confined command starts from the container's configured environment.
    return toModel(await this.executor.exec(pin, body as never, { signal, defaultNamespaces: own, baseEnv: environmentOf(container.env) }));
  }

  async createSandbox(body: SandboxBody): Promise<SandboxDetailModel> {
    return (await this.sandboxes.create(body)) as SandboxInfo as SandboxDetailModel;
  }

  listSandboxes(): SandboxDetailModel[] {
    return this.sandboxes.list().map((s) => this.sandboxes.get(s.id) as SandboxDetailModel);
  }

  getSandbox(id: string): SandboxDetailModel {
    return this.sandboxes.get(id) as SandboxDetailModel;
  }

  async deleteSandbox(id: string): Promise<SandboxDetailModel> {
    return (await this.sandboxes.delete(id)) as SandboxDetailModel;
  }
}
