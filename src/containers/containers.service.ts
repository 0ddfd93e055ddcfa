import { Inject, Injectable } from '@nestjs/common';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import { type Page, paginate } from '../common/pagination.js';
import { CgroupSystem } from '../kernel/cgroups/system.js';
import { DockerEngine } from '../kernel/docker/engine.js';
import { NsgateError } from '../kernel/errors.js';
import { assessContainer } from '../kernel/findings.js';
import { readProcessStatus } from '../kernel/procfs/status.js';
import { DEFAULT_LSM_LIST_PATH, readLsmList, readProcessSecurity } from '../kernel/security.js';
import { ProcessesService } from '../processes/processes.service.js';
import type { ContainerListQuery } from './dto/container.dto.js';
import type {
  ContainerModel,
  ContainerSecurityModel,
  ContainerStatsModel,
  ContainerTopModel,
  ContainerWithStatsModel,
} from './container.models.js';
import { ContainerIndex, type IndexedContainer } from './container-index.js';
import { ContainerStats } from './container-stats.js';
import { ContainerViews } from './container-views.js';

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
  ) {}

  /** The running container's init pid (with its start time) and its configured environment (`NAME=value` entries) where the engine knows it. */
  async initPid(idOrName: string): Promise<{ id: string; name: string; pid: number; startTimeTicks: number | null; env: string[] | null }> {
    const c = await this.index.resolve(idOrName);
    if (c.pid === null) throw new NsgateError('CONFLICT', `container ${c.name} is not running`, { id: c.id, state: c.state });
    return { id: c.id, name: c.name, pid: c.pid, startTimeTicks: c.startTimeTicks, env: c.env };
  }

  /** The id of a container named by id, unique id prefix or name, running or not. */
  async idOf(idOrName: string): Promise<string> {
    return (await this.index.resolve(idOrName)).id;
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

  /** The container as the index holds it (no engine call). */
  indexed(idOrName: string): Promise<IndexedContainer> {
    return this.index.resolve(idOrName);
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
