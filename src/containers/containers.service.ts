import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import { type Page, paginate } from '../common/pagination.js';
import { CgroupSystem } from '../kernel/cgroups/system.js';
import { parseBytes } from '../kernel/cgroups/units.js';
import type { Limits } from '../kernel/cgroups/driver.js';
import { CpuSampler, usageReaderFrom } from '../kernel/containers/cpu-sampler.js';
import { type ContainerGroup, groupProcessesByContainer, recogniseMemberships } from '../kernel/containers/runtimes.js';
import {
  type ContainerInspect,
  type ContainerLimitsChange,
  type DockerLimits,
  inspectContainer,
  listContainers,
  updateContainerLimits,
} from '../kernel/docker/containers.js';
import { DockerEngine } from '../kernel/docker/engine.js';
import { NsgateError } from '../kernel/errors.js';
import { hostNamespaceInodes } from '../kernel/exec/pin.js';
import { assessContainer } from '../kernel/findings.js';
import { readProcessCgroups } from '../kernel/procfs/cgroup.js';
import { readNamespaceInodes } from '../kernel/procfs/namespace-links.js';
import { NAMESPACE_TYPES, type NamespaceType } from '../kernel/procfs/namespace-types.js';
import { readProcessStatus } from '../kernel/procfs/status.js';
import { ProcessScanner } from '../kernel/scan/process-scanner.js';
import { DEFAULT_LSM_LIST_PATH, readLsmList, readProcessSecurity } from '../kernel/security.js';
import { ProcessesService } from '../processes/processes.service.js';
import type { NamespaceInodesModel } from '../processes/process.models.js';
import type { ContainerLimitsBody, ContainerListQuery } from './dto/container.dto.js';
import type {
  ContainerLimitsChangeModel,
  ContainerModel,
  ContainerSecurityModel,
  ContainerStatsModel,
  ContainerTopModel,
  ContainerWithStatsModel,
  EngineLimitsModel,
} from './container.models.js';

/** How often containers of other runtimes (found by cgroup path) are looked for, and sampled containers refreshed. */
const INDEX_INTERVAL_MS = 5000;

interface Identity {
  id: string;
  name: string;
  image: string | null;
  state: string;
  pid: number | null;
  runtime: string;
  source: 'engine' | 'cgroup';
  info?: ContainerInspect;
}

function engineIdentity(info: ContainerInspect): Identity {
  const running = info.State.Running && info.State.Pid > 0;
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    image: info.Config.Image ?? null,
    state: info.State.Status,
    pid: running ? info.State.Pid : null,
    runtime: 'docker',
    source: 'engine',
    info,
  };
}

function groupIdentity(group: ContainerGroup): Identity {
  return { id: group.id, name: group.name ?? group.id, image: null, state: 'running', pid: group.initPid, runtime: group.runtime, source: 'cgroup' };
}

function engineLimits(l: DockerLimits): EngineLimitsModel {
  return { memory: l.memory, memorySwap: l.memorySwap, nanoCpus: l.nanoCpus, cpuShares: l.cpuShares, pidsLimit: l.pidsLimit };
}

@Injectable()
export class ContainersService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('containers');
  private readonly sampler: CpuSampler;
  private others: ContainerGroup[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly engine: DockerEngine,
    private readonly system: CgroupSystem,
    private readonly scanner: ProcessScanner,
    private readonly processes: ProcessesService,
  ) {
    this.sampler = new CpuSampler({ readUsageNs: usageReaderFrom(system) });
  }

  onModuleInit(): void {
    this.sampler.start();
    this.timer = setInterval(() => void this.refreshIndex(), INDEX_INTERVAL_MS);
    this.timer.unref();
    void this.refreshIndex();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.sampler.stop();
  }

  /**
   * In the background: other runtimes' containers (a /proc scan, too slow for every list call)
   * and the set of cgroups the cpu sampler keeps a previous sample of.
   */
  private async refreshIndex(): Promise<void> {
    try {
      const snapshot = await this.scanner.processes({ maxAgeMs: INDEX_INTERVAL_MS });
      this.others = groupProcessesByContainer(snapshot.processes).filter((g) => g.runtime !== 'docker');
      const paths = this.others.map((g) => g.cgroupPath);
      try {
        const running = await listContainers(this.engine, { all: false });
        const infos = await Promise.all(running.map((c) => inspectContainer(this.engine, c.id).catch(() => undefined)));
        for (const info of infos) {
          const path = info && info.State.Pid > 0 ? this.cgroupPathOf(info.State.Pid) : null;
          if (path) paths.push(path);
        }
      } catch {
        // engine down: sample what the kernel shows
      }
      this.sampler.setTracked(paths);
    } catch (err) {
      this.logger.warn(`container index refresh failed: ${(err as Error).message}`);
    }
  }

  private cgroupPathOf(pid: number): string | null {
    try {
      return recogniseMemberships(readProcessCgroups(pid, { procRoot: this.config.procRoot }))?.cgroupPath ?? null;
    } catch {
      return null;
    }
  }

  private async identities(): Promise<Identity[]> {
    const summaries = await listContainers(this.engine, { all: true });
    const infos = await Promise.all(summaries.map((s) => inspectContainer(this.engine, s.id).catch((err: unknown) => (err instanceof NsgateError && err.code === 'CONTAINER_NOT_FOUND' ? undefined : Promise.reject(err)))));
    const engine = infos.filter((i): i is ContainerInspect => i !== undefined).map(engineIdentity);
    const known = new Set(engine.map((e) => e.id));
    return [...engine, ...this.others.filter((g) => !known.has(g.id)).map(groupIdentity)];
  }

  /** An engine container by id, unique prefix or name; else one found by cgroup path, by id or name. */
  private async identify(idOrName: string): Promise<Identity> {
    try {
      return engineIdentity(await inspectContainer(this.engine, idOrName));
    } catch (err) {
      if (!(err instanceof NsgateError && err.code === 'CONTAINER_NOT_FOUND')) throw err;
      const other = this.others.find((g) => g.id === idOrName || g.name === idOrName || (idOrName.length >= 4 && g.id.startsWith(idOrName)));
      if (other) return groupIdentity(other);
      throw err;
    }
  }

  /** A running container's init pid from one engine inspect (or the cgroup index); no full view. */
  /** The running container's init pid, and its configured environment (`NAME=value` entries) where the engine knows it. */
  async initPid(idOrName: string): Promise<{ id: string; name: string; pid: number; env: string[] | null }> {
    const identity = await this.identify(idOrName);
    if (identity.pid === null) throw new NsgateError('CONFLICT', `container ${identity.name} is not running`, { id: identity.id, state: identity.state });
    return { id: identity.id, name: identity.name, pid: identity.pid, env: identity.info?.Config.Env ?? null };
  }

  private view(identity: Identity): ContainerModel {
    const base: ContainerModel = { ...identity, image: identity.image, cgroupPath: null, cgroups: [], namespaces: null, limits: null, sharedNamespaces: [] };
    delete (base as Partial<Identity>).info;
    if (identity.pid === null) return base;
    try {
      const procRoot = this.config.procRoot;
      const memberships = readProcessCgroups(identity.pid, { procRoot });
      const cgroupPath = recogniseMemberships(memberships)?.cgroupPath ?? null;
      const inodes = readNamespaceInodes(identity.pid, { procRoot });
      return {
        ...base,
        cgroupPath,
        cgroups: memberships.map((m) => ({ hierarchy: m.hierarchyId, controllers: m.controllers, path: m.path })),
        namespaces: Object.fromEntries(NAMESPACE_TYPES.map((t) => [t, inodes[t] === null ? null : Number(inodes[t])])) as unknown as NamespaceInodesModel,
        limits: cgroupPath && this.system.exists(cgroupPath) ? (this.system.readLimits(cgroupPath) as Limits) : null,
      };
    } catch (err) {
      // it stopped between the engine's answer and our read
      if (err instanceof NsgateError && err.code === 'PROCESS_NOT_FOUND') return { ...base, pid: null, state: 'exited' };
      throw err;
    }
  }

  /** Which namespaces each container shares, with which other containers and with the host. */
  private withSharing(views: ContainerModel[]): ContainerModel[] {
    const host = hostNamespaceInodes({ procRoot: this.config.procRoot });
    return views.map((v) => {
      if (!v.namespaces || v.pid === null) return v;
      const shared = NAMESPACE_TYPES.flatMap((type) => {
        const inode = v.namespaces![type];
        if (inode === null) return [];
        const others = views.filter((o) => o !== v && o.namespaces?.[type] === inode).map((o) => o.id);
        if (host[type] !== null && Number(host[type]) === inode) others.push('host');
        return others.length ? [{ type, inode, with: others }] : [];
      });
      return { ...v, sharedNamespaces: shared };
    });
  }

  async all(): Promise<ContainerModel[]> {
    return this.withSharing((await this.identities()).map((i) => this.view(i)));
  }

  async list(query: ContainerListQuery): Promise<Page<ContainerWithStatsModel>> {
    const views = await this.all();
    const withStats = query.stats === true || query.stats === 'true';
    const page = paginate(views, query.limit, query.cursor);
    if (withStats) page.items = page.items.map((v) => ({ ...v, stats: this.statsOfView(v) }));
    return page;
  }

  async get(idOrName: string): Promise<ContainerModel> {
    const identity = await this.identify(idOrName);
    const views = await this.all();
    return views.find((v) => v.id === identity.id) ?? this.view(identity);
  }

  private requireRunning(view: ContainerModel): asserts view is ContainerModel & { pid: number; cgroupPath: string } {
    if (view.pid === null || view.cgroupPath === null) {
      throw new NsgateError('CONFLICT', `container ${view.name} is not running`, { id: view.id, state: view.state });
    }
  }

  async top(idOrName: string): Promise<ContainerTopModel> {
    const view = this.view(await this.identify(idOrName));
    this.requireRunning(view);
    const processes = this.processes
      .existing(this.system.processes(view.cgroupPath))
      .map((p) => ({ pid: p.pid, pidInContainer: p.nspid[p.nspid.length - 1] ?? p.pid, ppid: p.ppid, user: p.user, command: p.cmdline.length ? p.cmdline.join(' ') : `[${p.comm}]` }));
    return { id: view.id, processes, ancestors: this.processes.ancestors(view.pid) };
  }

  private statsOfView(view: ContainerModel): ContainerStatsModel | null {
    if (view.pid === null || view.cgroupPath === null || !this.system.exists(view.cgroupPath)) return null;
    const stats = this.system.readStats(view.cgroupPath);
    this.sampler.track(view.cgroupPath);
    const cpu = this.sampler.read(view.cgroupPath);
    const usage = stats.memory?.usage ?? null;
    const inactive = stats.memory?.inactiveFile ?? null;
    return {
      id: view.id,
      name: view.name,
      memory: { usage, limit: stats.memory?.limit ?? null, workingSet: usage === null ? null : Math.max(0, usage - (inactive ?? 0)) },
      cpu: { percent: cpu?.percent ?? null, usageNs: cpu?.usageNs ?? stats.cpu?.usageNs ?? null, windowMs: cpu?.windowMs === null || cpu?.windowMs === undefined ? null : Math.round(cpu.windowMs) },
      pids: { current: stats.pids?.current ?? null, limit: stats.pids?.max ?? null },
      blkio: { readBytes: stats.io?.readBytes ?? null, writeBytes: stats.io?.writeBytes ?? null },
      readAt: new Date().toISOString(),
    };
  }

  async stats(idOrName: string): Promise<ContainerStatsModel> {
    const view = this.view(await this.identify(idOrName));
    this.requireRunning(view);
    const stats = this.statsOfView(view);
    if (!stats) throw new NsgateError('CONFLICT', `container ${view.name} is not running`, { id: view.id });
    return stats;
  }

  /** Through the engine, so docker inspect agrees; then read back from the kernel. */
  async updateLimits(idOrName: string, body: ContainerLimitsBody): Promise<ContainerLimitsChangeModel> {
    const identity = await this.identify(idOrName);
    if (identity.source !== 'engine') {
      throw new NsgateError('CONFLICT', `${identity.runtime} container ${identity.name} is not the Docker Engine's; change its cgroup instead`, { id: identity.id, runtime: identity.runtime });
    }
    const change = toEngineChange(body);
    const path = identity.pid === null ? null : this.cgroupPathOf(identity.pid);
    const before = path && this.system.exists(path) ? (this.system.readLimits(path) as Limits) : null;
    const result = await updateContainerLimits(this.engine, identity.id, change);
    const after = path && this.system.exists(path) ? (this.system.readLimits(path) as Limits) : null;
    return { id: result.id, before, after, engineBefore: engineLimits(result.before), engineAfter: engineLimits(result.after), warnings: result.warnings };
  }

  /** What is in force for the container's init process, and what is risky about it. */
  async security(idOrName: string): Promise<ContainerSecurityModel> {
    const identity = await this.identify(idOrName);
    if (identity.pid === null) throw new NsgateError('CONFLICT', `container ${identity.name} is not running`, { id: identity.id });
    const posture = readProcessSecurity(this.config.procRoot, identity.pid);
    const info = identity.info;
    const host = info?.HostConfig;
    let engineCapabilities: string | undefined;
    try {
      // the shim runs with the engine's bounding set: the most a container can hold here
      const ppid = readProcessStatus(identity.pid, { procRoot: this.config.procRoot }).ppid;
      engineCapabilities = readProcessStatus(ppid, { procRoot: this.config.procRoot }).capabilities.bounding;
    } catch {
      engineCapabilities = undefined;
    }
    const findings = assessContainer(posture, {
      privileged: host?.Privileged ?? false,
      mounts: (info?.Mounts ?? []).map((m) => ({ source: m.Source, destination: m.Destination })),
      hostNamespaces: { pid: host?.PidMode === 'host', net: host?.NetworkMode === 'host', ipc: host?.IpcMode === 'host', uts: host?.UTSMode === 'host' },
      user: info?.Config.User,
      dockerSockets: this.engine.dockerHost.startsWith('unix://') ? [this.engine.dockerHost.slice('unix://'.length)] : [],
      engineCapabilities,
      hostLsms: readLsmList(DEFAULT_LSM_LIST_PATH),
    });
    const inode = posture.userNamespace.inode;
    return { ...posture, userNamespace: { ...posture.userNamespace, inode: inode === null ? null : Number(inode) }, containerId: identity.id, findings };
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
