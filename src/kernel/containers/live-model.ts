import { NsgateError } from '../errors.js';
import { type ContainerEvent, type ContainerInspect, type DockerLimits, dockerLimitsOf, pickContainer } from '../docker/containers.js';
import { hostNamespaceInodes } from '../exec/pin.js';
import { type CgroupMembership, readProcessCgroups } from '../procfs/cgroup.js';
import { type NamespaceInodes, readNamespaceInodes } from '../procfs/namespace-links.js';
import { samePidIncarnation, startTimeOf } from '../procfs/start-time.js';
import { recogniseMemberships } from './runtimes.js';

/*
 * The engine's containers, kept in memory so that no read asks the engine. Events (create,
 * start, die, destroy, update, rename, oom) make the model re-inspect one container; a periodic
 * list (every `reconcileMs`) heals whatever an event stream that broke or dropped did not say.
 * What a container is (name, image, labels, env, how it was started) comes from the engine;
 * what it holds now (limits, usage, processes) is never kept here: callers read the kernel.
 *
 * A running container's init pid is kept with its start time (field 22 of /proc/PID/stat)
 * and checked on every read: a pid the kernel has since given to another process is never
 * served as the container's.
 */

/** What routes need of a container, as the engine last said it. */
export interface LiveContainer {
  id: string;
  name: string;
  image: string | null;
  labels: Record<string, string>;
  /** Config.Env: `NAME=value` entries. */
  env: string[] | null;
  /** created, running, paused, restarting, removing, exited, dead. */
  state: string;
  /** Init pid on the host while running; null otherwise, or when it could not be pinned. */
  pid: number | null;
  /** Field 22 of /proc/<pid>/stat when `pid` was taken: the pid is this container's only while it matches. */
  startTimeTicks: number | null;
  /** The container's own cgroup (recognised from init's /proc/PID/cgroup), the same in every hierarchy here. */
  cgroupPath: string | null;
  /** Init's cgroup per hierarchy, read once when it started. */
  cgroups: CgroupMembership[];
  /** Init's namespaces, read once when it started. */
  namespaces: NamespaceInodes | null;
  /** What security findings need of HostConfig and Config. */
  privileged: boolean;
  hostNamespaces: { pid: boolean; net: boolean; ipc: boolean; uts: boolean };
  user: string | undefined;
  mounts: { source: string; destination: string }[];
  /** The limits the engine holds (HostConfig), as of the last inspect: a limits version needs them without asking the engine. */
  engineLimits: DockerLimits | null;
}

export interface LiveModelStatus {
  /** True after a list of the engine failed (engine down): entries are what it last said. */
  stale: boolean;
  /** True once one list of the engine succeeded. */
  loaded: boolean;
  lastReconcileAt: string | null;
  lastError: string | null;
  reconcileMs: number;
}

/** What the model asks of the engine (tests pass a fake). */
export interface LiveModelSource {
  /** Every container's id, name and state (one `GET /containers/json?all=1`). */
  list(): Promise<{ id: string; name: string; state: string }[]>;
  /** docker inspect; CONTAINER_NOT_FOUND when it is gone. */
  inspect(id: string): Promise<ContainerInspect>;
}

export interface LiveModelOptions {
  source: LiveModelSource;
  procRoot: string;
  /** Period of the reconciling list. */
  reconcileMs: number;
  log?: { warn(message: string): void; debug(message: string): void };
}

/** Docker's container actions that can change what the model holds. */
export const MODEL_ACTIONS = ['create', 'start', 'restart', 'die', 'destroy', 'update', 'rename', 'oom', 'pause', 'unpause'] as const;

export class LiveContainers {
  private readonly byId = new Map<string, LiveContainer>();
  private readonly pending = new Set<string>();
  private reconcileWanted = false;
  private draining: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private firstLoad: Promise<void> | null = null;
  private host: NamespaceInodes | null = null;
  private state: Omit<LiveModelStatus, 'reconcileMs'> = { stale: false, loaded: false, lastReconcileAt: null, lastError: null };

  constructor(private readonly options: LiveModelOptions) {}

  /** The first list, then one every reconcileMs. */
  start(): Promise<void> {
    this.timer = setInterval(() => void this.reconcile(), this.options.reconcileMs);
    this.timer.unref();
    this.firstLoad = this.reconcile();
    return this.firstLoad;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  status(): LiveModelStatus {
    return { ...this.state, reconcileMs: this.options.reconcileMs };
  }

  /** Resolves once the first list has been tried (reads wait for it rather than answer from nothing). */
  async ready(): Promise<void> {
    await this.firstLoad;
  }

  /** An engine event: the container is inspected again (destroy: dropped) in the background. */
  onEvent(event: Pick<ContainerEvent, 'action' | 'id'>): void {
    if (!event.id) return;
    if (event.action === 'destroy') {
      this.byId.delete(event.id);
      this.pending.delete(event.id);
      return;
    }
    this.pending.add(event.id);
    void this.drain();
  }

  /** A full list of the engine, now (and on the timer); resolves when it is done. */
  reconcile(): Promise<void> {
    this.reconcileWanted = true;
    return this.drain();
  }

  /** Re-inspects one container now (after nsgate changed it itself). */
  refresh(id: string): Promise<void> {
    this.pending.add(id);
    return this.drain();
  }

  /**
   * Every container as served: a running one whose pid no longer has the start time it had
   * (it died, and maybe the pid went to another process) is served as not running, and looked
   * at again.
   */
  entries(): LiveContainer[] {
    return [...this.byId.values()].map((c) => this.checked(c));
  }

  /** Every container as last recorded, without the pid check (callers check the few they serve with current()). */
  snapshot(): LiveContainer[] {
    return [...this.byId.values()];
  }

  /** One recorded container, checked as entries() are. */
  current(c: LiveContainer): LiveContainer {
    return this.checked(c);
  }

  /** By full id, name (with or without '/') or unique id prefix of 4+ hex digits; checked as entries() are. */
  resolve(idOrName: string): LiveContainer {
    return this.checked(pickContainer(this.byId.values(), idOrName));
  }

  /** The host's namespaces, read at each reconcile (they do not change while nsgate runs). */
  hostNamespaces(): NamespaceInodes {
    this.host ??= hostNamespaceInodes({ procRoot: this.options.procRoot });
    return this.host;
  }

  private checked(c: LiveContainer): LiveContainer {
    if (c.pid === null || c.startTimeTicks === null) return c;
    if (samePidIncarnation(this.options.procRoot, c.pid, c.startTimeTicks)) return c;
    this.pending.add(c.id);
    void this.drain();
    return { ...c, state: 'exited', pid: null, startTimeTicks: null };
  }

  /** One job at a time: a reconcile and per-container inspects never interleave, so neither undoes the other. */
  private drain(): Promise<void> {
    this.draining ??= (async () => {
      try {
        while (this.reconcileWanted || this.pending.size > 0) {
          try {
            if (this.reconcileWanted) {
              this.reconcileWanted = false;
              await this.runReconcile();
            } else {
              const id = this.pending.values().next().value!;
              this.pending.delete(id);
              await this.inspectInto(id);
            }
          } catch (err) {
            this.options.log?.warn(`container model: ${(err as Error).message}`);
          }
        }
      } finally {
        this.draining = null;
      }
    })();
    return this.draining;
  }

  private async runReconcile(): Promise<void> {
    let listed: { id: string; name: string; state: string }[];
    try {
      listed = await this.options.source.list();
    } catch (err) {
      this.state.stale = true;
      this.state.lastError = (err as Error).message;
      this.options.log?.debug(`container model: list failed, serving what it knew: ${(err as Error).message}`);
      return;
    }
    try {
      this.host = hostNamespaceInodes({ procRoot: this.options.procRoot });
    } catch {
      // keep the last reading
    }
    const seen = new Set(listed.map((c) => c.id));
    for (const id of [...this.byId.keys()]) if (!seen.has(id)) this.byId.delete(id);
    for (const c of listed) {
      const known = this.byId.get(c.id);
      const changed = !known || known.name !== c.name || known.state !== c.state;
      const pidLost = known?.pid != null && known.startTimeTicks != null && !samePidIncarnation(this.options.procRoot, known.pid, known.startTimeTicks);
      const unpinned = known !== undefined && known.state === 'running' && known.pid === null;
      if (changed || pidLost || unpinned) {
        this.pending.delete(c.id);
        await this.inspectInto(c.id);
      }
    }
    this.state = { stale: false, loaded: true, lastReconcileAt: new Date().toISOString(), lastError: null };
  }

  private async inspectInto(id: string): Promise<void> {
    let info: ContainerInspect;
    try {
      info = await this.options.source.inspect(id);
    } catch (err) {
      if (err instanceof NsgateError && err.code === 'CONTAINER_NOT_FOUND') {
        this.byId.delete(id);
        return;
      }
      // engine away: the next reconcile picks it up
      this.options.log?.debug(`container model: inspect ${id} failed: ${(err as Error).message}`);
      return;
    }
    this.byId.set(info.Id, this.entryOf(info));
  }

  private entryOf(info: ContainerInspect): LiveContainer {
    const host = info.HostConfig ?? {};
    const entry: LiveContainer = {
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      image: info.Config?.Image ?? null,
      labels: info.Config?.Labels ?? {},
      env: info.Config?.Env ?? null,
      state: info.State.Status,
      pid: null,
      startTimeTicks: null,
      cgroupPath: null,
      cgroups: [],
      namespaces: null,
      privileged: host.Privileged ?? false,
      hostNamespaces: { pid: host.PidMode === 'host', net: host.NetworkMode === 'host', ipc: host.IpcMode === 'host', uts: host.UTSMode === 'host' },
      user: info.Config?.User,
      mounts: (info.Mounts ?? []).map((m) => ({ source: m.Source, destination: m.Destination })),
      engineLimits: dockerLimitsOf(info),
    };
    const pid = info.State.Running && info.State.Pid > 0 ? info.State.Pid : null;
    if (pid === null) return entry;
    const procRoot = this.options.procRoot;
    try {
      const startTimeTicks = startTimeOf(procRoot, pid);
      const cgroups = readProcessCgroups(pid, { procRoot });
      const recognised = recogniseMemberships(cgroups);
      const namespaces = readNamespaceInodes(pid, { procRoot });
      // the pid is the container's only if it sits in a cgroup that names the container and has
      // not changed meanwhile (a pid reused between the engine's answer and these reads fails one of the two)
      if (startTimeTicks === null || recognised?.id !== info.Id || startTimeOf(procRoot, pid) !== startTimeTicks) {
        return { ...entry, state: 'exited' };
      }
      return { ...entry, pid, startTimeTicks, cgroups, cgroupPath: recognised?.cgroupPath ?? null, namespaces };
    } catch (err) {
      if (err instanceof NsgateError && err.code === 'PROCESS_NOT_FOUND') return { ...entry, state: 'exited' };
      throw err;
    }
  }
}
