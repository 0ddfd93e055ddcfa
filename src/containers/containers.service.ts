import { Inject, Injectable } from '@nestjs/common';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import type { ChangeOptions } from '../common/change-options.js';
import { type Page, paginate } from '../common/pagination.js';
import { CgroupSystem } from '../kernel/cgroups/system.js';
import { parseBytes } from '../kernel/cgroups/units.js';
import type { Limits } from '../kernel/cgroups/driver.js';
import { type ContainerLimitsChange, type DockerLimits, updateContainerLimits } from '../kernel/docker/containers.js';
import { DockerEngine } from '../kernel/docker/engine.js';
import { NsgateError } from '../kernel/errors.js';
import { assessContainer } from '../kernel/findings.js';
import { readProcessStatus } from '../kernel/procfs/status.js';
import { DEFAULT_LSM_LIST_PATH, readLsmList, readProcessSecurity } from '../kernel/security.js';
import { ProcessesService } from '../processes/processes.service.js';
import type { ContainerLimitsBody, ContainerListQuery } from './dto/container.dto.js';
import type {
  ContainerLimitsChangeModel,
  ContainerModel,
  ContainerReconcileModel,
  ContainerSecurityModel,
  ContainerStatsModel,
  ContainerTopModel,
  ContainerWithStatsModel,
  EngineLimitsModel,
} from './container.models.js';
import { ContainerIndex, type IndexedContainer } from './container-index.js';
import { ContainerStats } from './container-stats.js';
import { ContainerViews } from './container-views.js';
import { ContainerDrift, type DriftAppeared } from './container-drift.js';
import { engineValuesAsKernelInput, limitsDrift } from '../kernel/containers/drift.js';
import type { Observable } from 'rxjs';
import { LeasesService } from '../leases/leases.service.js';

function engineLimits(l: DockerLimits): EngineLimitsModel {
  return { memory: l.memory, memorySwap: l.memorySwap, nanoCpus: l.nanoCpus, cpuShares: l.cpuShares, pidsLimit: l.pidsLimit };
}

/**
 * The containers feature's face: reads come from the index (the live model; no engine call)
 * plus the kernel files each answer needs; only a limit change goes through the engine.
 */
@Injectable()
export class ContainersService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly engine: DockerEngine,
    private readonly system: CgroupSystem,
    private readonly processes: ProcessesService,
    private readonly index: ContainerIndex,
    private readonly views: ContainerViews,
    private readonly statsReader: ContainerStats,
    private readonly drift: ContainerDrift,
    private readonly leases: LeasesService,
  ) {
    // a lease's expiry: the engine's before values for the fields the change set (a lowering in stages)
    leases.registerRestorer('container', async (lease) => {
      const id = lease.target.slice('container:'.length);
      // a change that got in first (through nsgate or docker update) wins over the way back
      await this.index.model.refresh(id);
      const now = (await this.index.resolve(id)).engineLimits;
      const after = lease.after as EngineLimitsModel;
      const changed = lease.fields.filter((f) => {
        const key = f === 'cpus' ? 'nanoCpus' : (f as keyof EngineLimitsModel);
        return now !== null && now[key] !== after[key];
      });
      if (changed.length) throw new NsgateError('CONFLICT', `container ${id} changed since (${changed.join(', ')}); nothing was put back`, { id, changed });
      const r = await this.applyLimits(id, restoreBody(lease.fields, lease.before as EngineLimitsModel), { strategy: 'reclaim' });
      return { before: r.engineBefore, after: r.engineAfter };
    });
  }

  /** Drift as it appears (views and the periodic check), for the events module. */
  get driftAppeared$(): Observable<DriftAppeared> {
    return this.drift.appeared$;
  }

  /** The running container's init pid (with its start time) and its configured environment (`NAME=value` entries) where the engine knows it. */
  async initPid(idOrName: string): Promise<{ id: string; name: string; pid: number; startTimeTicks: number | null; env: string[] | null }> {
    const c = await this.index.resolve(idOrName);
    if (c.pid === null) throw new NsgateError('CONFLICT', `container ${c.name} is not running`, { id: c.id, state: c.state });
    return { id: c.id, name: c.name, pid: c.pid, startTimeTicks: c.startTimeTicks, env: c.env };
  }

  async all(): Promise<ContainerModel[]> {
    const views = (await this.index.all()).map((c) => this.views.view(c));
    return this.views.withSharing(views, views, this.index.hostNamespaces());
  }

  async list(query: ContainerListQuery): Promise<Page<ContainerWithStatsModel> & { stale: boolean }> {
    const views = await this.all();
    const withStats = query.stats === true || query.stats === 'true';
    const page = paginate(views, query.limit, query.cursor);
    if (withStats) page.items = page.items.map((v) => ({ ...v, stats: this.statsReader.of(v) }));
    return { ...page, stale: this.index.status().stale };
  }

  async get(idOrName: string): Promise<ContainerModel> {
    const c = await this.index.resolve(idOrName);
    const view = this.views.view(c);
    // other runtimes' containers keep no namespaces in the index: their sharing is found from the list
    const peers = c.source === 'engine' && !this.index.hasOthers() ? this.index.peersSharing(c).map((o) => this.views.identityView(o)) : await this.all();
    const [shared] = this.views.withSharing([view], peers, this.index.hostNamespaces());
    return shared!;
  }

  /** A running container's pid (checked against its start time) and cgroup, from the index alone: top and stats need no full view. */
  private async running(idOrName: string): Promise<IndexedContainer & { pid: number; cgroupPath: string }> {
    const c = await this.index.resolve(idOrName);
    if (c.pid === null || c.cgroupPath === null) {
      throw new NsgateError('CONFLICT', `container ${c.name} is not running`, { id: c.id, state: c.state });
    }
    return c as IndexedContainer & { pid: number; cgroupPath: string };
  }

  async top(idOrName: string): Promise<ContainerTopModel> {
    const view = await this.running(idOrName);
    const processes = this.processes
      .existing(this.system.processes(view.cgroupPath))
      .map((p) => ({ pid: p.pid, pidInContainer: p.nspid[p.nspid.length - 1] ?? p.pid, ppid: p.ppid, user: p.user, command: p.cmdline.length ? p.cmdline.join(' ') : `[${p.comm}]` }));
    return { id: view.id, processes, ancestors: this.processes.ancestors(view.pid) };
  }

  async stats(idOrName: string): Promise<ContainerStatsModel> {
    const view = await this.running(idOrName);
    const stats = this.statsReader.of(view);
    if (!stats) throw new NsgateError('CONFLICT', `container ${view.name} is not running`, { id: view.id });
    return stats;
  }

  /**
   * The change (applyLimits), then the lease bookkeeping: earlier leases on the fields it set end
   * void, and with ttlSeconds its own lease is on disk before the answer. A lease must be able to
   * put `before` back through the engine, which cannot remove a memory or CPU limit once set:
   * such a change is refused with ttlSeconds before anything is written.
   */
  async updateLimits(idOrName: string, body: ContainerLimitsBody, options: ChangeOptions = {}): Promise<ContainerLimitsChangeModel> {
    const fields = containerLimitFields(body);
    if (options.ttlSeconds !== undefined) {
      this.leases.assertRoom();
      const c = await this.index.resolve(idOrName);
      const unrestorable = c.engineLimits ? fields.filter((f) => (f === 'memory' && c.engineLimits!.memory === null) || (f === 'cpus' && c.engineLimits!.nanoCpus === null)) : fields;
      if (unrestorable.length) {
        throw new NsgateError('LIMIT_INVALID', `a lease could not put ${unrestorable.join(', ')} back: the engine cannot remove a limit once set (it has none now); send the change without ttlSeconds`, {
          field: 'ttlSeconds',
          fields: unrestorable,
        });
      }
    }
    const result = await this.applyLimits(idOrName, body, options);
    const target = `container:${result.id}`;
    const requestId = options.requestId ?? 'unknown';
    let lease;
    try {
      lease = await this.leases.afterChange(
        { target, fields, requestId },
        options.ttlSeconds === undefined ? undefined : { kind: 'container', target, fields, ttlSeconds: options.ttlSeconds, requestId, before: result.engineBefore, after: result.engineAfter },
      );
    } catch (err) {
      if (options.ttlSeconds === undefined) throw err;
      await this.applyLimits(result.id, restoreBody(fields, result.engineBefore), {}).catch(() => undefined);
      throw new NsgateError('INTERNAL', `the lease could not be kept in the state folder, so the change was put back: ${(err as Error).message}`, { id: result.id });
    }
    return lease ? { ...result, lease: { id: lease.id, expiresAt: lease.expiresAt, fields: lease.fields } } : result;
  }

  /** Through the engine, so docker inspect agrees; then read back from the kernel. */
  private async applyLimits(idOrName: string, body: ContainerLimitsBody, options: ChangeOptions): Promise<ContainerLimitsChangeModel> {
    const c = await this.index.resolve(idOrName);
    if (c.source !== 'engine') {
      throw new NsgateError('CONFLICT', `${c.runtime} container ${c.name} is not the Docker Engine's; change its cgroup instead`, { id: c.id, runtime: c.runtime });
    }
    const change = toEngineChange(body);
    const path = c.pid === null ? null : c.cgroupPath;
    const before = path && this.system.exists(path) ? (this.system.readLimits(path) as Limits) : null;
    const viaEngine = () => updateContainerLimits(this.engine, c.id, change);
    const staged = options.strategy === 'reclaim' && change.memory !== undefined && path !== null;
    const result = await this.drift.whileChanging(c.id, async () => {
      const done = staged ? await this.system.lowerContainerMemory(path, change.memory!, options.timeoutMs, viaEngine) : await viaEngine();
      // the model holds the engine's new limits before drift is judged again
      await this.index.model.refresh(c.id);
      return done;
    });
    const after = path && this.system.exists(path) ? (this.system.readLimits(path) as Limits) : null;
    return { id: result.id, before, after, engineBefore: engineLimits(result.before), engineAfter: engineLimits(result.after), warnings: result.warnings };
  }

  /**
   * Puts the engine's limits back into the kernel where they drifted (a raw write into the
   * container's cgroup): the engine's values as it holds them now, written into the container's
   * own cgroup; {drift found, before, after, engine}.
   */
  async reconcileLimits(idOrName: string): Promise<ContainerReconcileModel> {
    const found = await this.index.resolve(idOrName);
    if (found.source !== 'engine') {
      throw new NsgateError('CONFLICT', `${found.runtime} container ${found.name} is not the Docker Engine's: there is nothing to reconcile with`, { id: found.id });
    }
    await this.index.model.refresh(found.id);
    const c = await this.index.resolve(found.id);
    if (c.pid === null || c.cgroupPath === null || !c.engineLimits) throw new NsgateError('CONFLICT', `container ${c.name} is not running`, { id: c.id, state: c.state });
    const path = c.cgroupPath;
    const engine = c.engineLimits;
    return this.drift.whileChanging(c.id, async () => {
      const before = this.system.readLimits(path) as Limits;
      const drift = limitsDrift(before, engine);
      if (drift.length === 0) return { id: c.id, drift, before, after: before, engine: engineLimits(engine) };
      const update = await this.system.writeContainerCgroup(path, engineValuesAsKernelInput(drift, engine));
      return { id: c.id, drift, before: update.before as Limits, after: update.after as Limits, engine: engineLimits(engine) };
    });
  }

  /** What is in force for the container's init process, and what is risky about it. */
  async security(idOrName: string): Promise<ContainerSecurityModel> {
    const c = await this.index.resolve(idOrName);
    if (c.pid === null) throw new NsgateError('CONFLICT', `container ${c.name} is not running`, { id: c.id });
    const posture = readProcessSecurity(this.config.procRoot, c.pid);
    let engineCapabilities: string | undefined;
    try {
      // the shim runs with the engine's bounding set: the most a container can hold here
      const ppid = readProcessStatus(c.pid, { procRoot: this.config.procRoot }).ppid;
      engineCapabilities = readProcessStatus(ppid, { procRoot: this.config.procRoot }).capabilities.bounding;
    } catch {
      engineCapabilities = undefined;
    }
    const findings = assessContainer(posture, {
      privileged: c.privileged,
      mounts: c.mounts,
      hostNamespaces: c.hostNamespaces,
      user: c.user,
      dockerSockets: this.engine.dockerHost.startsWith('unix://') ? [this.engine.dockerHost.slice('unix://'.length)] : [],
      engineCapabilities,
      hostLsms: readLsmList(DEFAULT_LSM_LIST_PATH),
    });
    const inode = posture.userNamespace.inode;
    return { ...posture, userNamespace: { ...posture.userNamespace, inode: inode === null ? null : Number(inode) }, containerId: c.id, findings };
  }
}

function toEngineChange(body: ContainerLimitsBody): ContainerLimitsChange {
  const change: ContainerLimitsChange = {};
  if (body.memory !== undefined) {
    const bytes = parseBytes(body.memory, 'memory');
    if (bytes === null) throw new NsgateError('LIMIT_INVALID', 'memory: the engine cannot remove a memory limit once set; give a size', { field: 'memory' });
    change.memory = bytes;
  }
  if (body.memorySwap !== undefined) {
    const swap = body.memorySwap === -1 || body.memorySwap === '-1' ? null : parseBytes(body.memorySwap, 'memorySwap');
    change.memorySwap = swap === null ? -1 : swap;
  }
  if (body.cpus !== undefined) change.nanoCpus = Math.round(body.cpus * 1e9);
  if (body.cpuShares !== undefined) change.cpuShares = body.cpuShares;
  if (body.pidsLimit !== undefined) change.pidsLimit = body.pidsLimit;
  if (Object.keys(change).length === 0) throw new NsgateError('VALIDATION_FAILED', 'give at least one of memory, memorySwap, cpus, cpuShares, pidsLimit');
  return change;
}

/** The fields a container limits body sets, as leases name them (the body's own names). */
export function containerLimitFields(body: ContainerLimitsBody): string[] {
  return (['memory', 'memorySwap', 'cpus', 'cpuShares', 'pidsLimit'] as const).filter((k) => body[k] !== undefined && body[k] !== null);
}

/** The body that puts the engine's `before` back for `fields` (unset shares: the kernel's 1024; unlimited swap or pids: -1). */
function restoreBody(fields: readonly string[], before: EngineLimitsModel): ContainerLimitsBody {
  const body: ContainerLimitsBody = {};
  for (const f of fields) {
    if (f === 'memory' && before.memory !== null) body.memory = before.memory;
    if (f === 'memorySwap') body.memorySwap = before.memorySwap ?? -1;
    if (f === 'cpus' && before.nanoCpus !== null) body.cpus = before.nanoCpus / 1e9;
    if (f === 'cpuShares') body.cpuShares = before.cpuShares ?? 1024;
    if (f === 'pidsLimit') body.pidsLimit = before.pidsLimit ?? -1;
  }
  return body;
}
