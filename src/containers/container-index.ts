import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import { EngineEvents } from '../engine/engine-events.js';
import { type LiveContainer, LiveContainers, type LiveModelStatus } from '../kernel/containers/live-model.js';
import { type ContainerGroup, groupProcessesByContainer } from '../kernel/containers/runtimes.js';
import { inspectContainer, listContainers } from '../kernel/docker/containers.js';
import { DockerEngine } from '../kernel/docker/engine.js';
import { NsgateError } from '../kernel/errors.js';
import type { NamespaceInodes } from '../kernel/procfs/namespace-links.js';
import { ProcessScanner } from '../kernel/scan/process-scanner.js';
import { QueryCostHints } from '../graphql/query-cost.js';

/** How often containers of other runtimes (found by cgroup path, a /proc scan) are looked for. */
const OTHERS_INTERVAL_MS = 5000;

/** A container as reads see it: the engine's (from the live model) or another runtime's (by cgroup path). */
export interface IndexedContainer extends LiveContainer {
  runtime: string;
  source: 'engine' | 'cgroup';
  /** The engine does not answer: this is what it last said. */
  stale: boolean;
}

function fromGroup(group: ContainerGroup): IndexedContainer {
  return {
    id: group.id,
    name: group.name ?? group.id,
    image: null,
    labels: {},
    env: null,
    state: 'running',
    pid: group.initPid,
    startTimeTicks: null,
    cgroupPath: group.cgroupPath,
    cgroups: [],
    namespaces: null,
    privileged: false,
    hostNamespaces: { pid: false, net: false, ipc: false, uts: false },
    user: undefined,
    mounts: [],
    engineLimits: null,
    runtime: group.runtime,
    source: 'cgroup',
    stale: false,
  };
}

/**
 * Which containers exist, for every read: the engine's from the live model (events plus a
 * list every NSGATE_CONTAINER_RECONCILE_MS), other runtimes' from a background /proc scan.
 * Nothing here asks the engine on a read.
 */
@Injectable()
export class ContainerIndex implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('containers');
  readonly model: LiveContainers;
  private others: ContainerGroup[] = [];
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => void) | undefined;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly engine: DockerEngine,
    private readonly events: EngineEvents,
    private readonly scanner: ProcessScanner,
    costHints: QueryCostHints,
  ) {
    costHints.register('containers', () => (this.model.status().loaded ? this.model.entries().length : 0) + this.others.length);
    this.model = new LiveContainers({
      source: {
        list: () => listContainers(engine, { all: true }),
        inspect: (id) => inspectContainer(engine, id),
      },
      procRoot: config.procRoot,
      reconcileMs: config.containerReconcileMs,
      log: { warn: (m) => this.logger.warn(m), debug: (m) => this.logger.debug(m) },
    });
  }

  onModuleInit(): void {
    this.unlisten = this.events.listen({
      onEvent: (event) => this.model.onEvent(event),
      // lost: find out now whether the engine is away (stale); back: catch up at once
      onFollowing: () => void this.model.reconcile(),
    });
    void this.model.start();
    this.timer = setInterval(() => void this.refreshOthers(), OTHERS_INTERVAL_MS);
    this.timer.unref();
    void this.refreshOthers();
  }

  onModuleDestroy(): void {
    this.unlisten?.();
    this.model.stop();
    clearInterval(this.timer);
  }

  status(): LiveModelStatus {
    return this.model.status();
  }

  private async refreshOthers(): Promise<void> {
    try {
      const snapshot = await this.scanner.processes({ maxAgeMs: OTHERS_INTERVAL_MS });
      this.others = groupProcessesByContainer(snapshot.processes).filter((g) => g.runtime !== 'docker');
    } catch (err) {
      this.logger.warn(`container index refresh failed: ${(err as Error).message}`);
    }
  }

  /** The model once it has been loaded; never loaded (the engine never answered) is ENGINE_UNAVAILABLE. */
  private async loaded(): Promise<LiveModelStatus> {
    await this.model.ready();
    const status = this.model.status();
    if (!status.loaded) {
      throw new NsgateError('ENGINE_UNAVAILABLE', `the Docker Engine at ${this.engine.dockerHost} has not answered since nsgate started`, {
        reason: status.lastError ?? 'not listed yet',
      });
    }
    return status;
  }

  /** Every container: the engine's, then other runtimes' not known to the engine. */
  async all(): Promise<IndexedContainer[]> {
    const { stale } = await this.loaded();
    const engine = this.model.entries().map((c): IndexedContainer => ({ ...c, runtime: 'docker', source: 'engine', stale }));
    const known = new Set(engine.map((e) => e.id));
    return [...engine, ...this.others.filter((g) => !known.has(g.id)).map(fromGroup)];
  }

  /** An engine container by id, unique prefix or name; else one found by cgroup path, by id, name or prefix. */
  async resolve(idOrName: string): Promise<IndexedContainer> {
    const { stale } = await this.loaded();
    try {
      return { ...this.model.resolve(idOrName), runtime: 'docker', source: 'engine', stale };
    } catch (err) {
      if (!(err instanceof NsgateError && err.code === 'CONTAINER_NOT_FOUND')) throw err;
      const other = this.others.find((g) => g.id === idOrName || g.name === idOrName || (idOrName.length >= 4 && g.id.startsWith(idOrName)));
      if (other) return fromGroup(other);
      if (stale) {
        // it may have been made while the engine is away from us: not "no such container"
        throw new NsgateError('ENGINE_UNAVAILABLE', `no container ${idOrName} in what the Docker Engine last said, and it does not answer now`, {
          idOrName,
          stale: true,
          reason: this.model.status().lastError,
        });
      }
      throw err;
    }
  }

  /**
   * The running containers, other than `self`, that share at least one namespace with it, each
   * pid-checked: a sharing answer reads /proc for these few, not for every container.
   */
  peersSharing(self: IndexedContainer): IndexedContainer[] {
    const mine = self.namespaces;
    if (self.pid === null || !mine) return [];
    const stale = this.model.status().stale;
    const shares = (ns: NamespaceInodes | null) => ns !== null && (Object.keys(mine) as (keyof NamespaceInodes)[]).some((t) => mine[t] !== null && ns[t] === mine[t]);
    return this.model
      .snapshot()
      .filter((o) => o.id !== self.id && o.pid !== null && shares(o.namespaces))
      .map((o): IndexedContainer => ({ ...this.model.current(o), runtime: 'docker', source: 'engine', stale }))
      .filter((o) => o.pid !== null);
  }

  /** Whether containers of other runtimes are known (their namespaces are read per view, not kept). */
  hasOthers(): boolean {
    return this.others.length > 0;
  }

  hostNamespaces(): NamespaceInodes {
    return this.model.hostNamespaces();
  }

  /** Running containers' cgroups (the stats sampler keeps a previous sample of each). */
  runningCgroups(): string[] {
    const engine = this.model.status().loaded ? this.model.entries().flatMap((c) => (c.pid !== null && c.cgroupPath ? [c.cgroupPath] : [])) : [];
    return [...engine, ...this.others.map((g) => g.cgroupPath)];
  }
}
