/** A cgroup whose OOM-kill counter is watched, and the container it belongs to, if any. */
export interface OomTarget {
  path: string;
  containerId?: string;
  containerName?: string;
  /** When it came to be (ms since the epoch), where known: one newer than the watch is new. */
  createdAt?: number;
}

export interface OomKill extends OomTarget {
  /** Kills since the previous reading. */
  kills: number;
  /** The counter as the kernel has it now. */
  total: number;
}

/** Where targets come from (managed cgroups, running containers); each is refreshed on its own. */
export interface OomSource {
  name: string;
  list: () => Promise<OomTarget[]>;
}

export interface OomWatchOptions {
  /** The cgroup's oom_kill counter (v1 memory.oom_control, v2 memory.events), or null when it is gone or has none. */
  readCounter: (path: string) => number | null;
  sources: OomSource[];
  onKill: (kill: OomKill) => void;
  /** Default 1000; a function is asked at each start(). */
  intervalMs?: number | (() => number);
  /** Sources are listed again every this many polls. Default 10. */
  refreshEvery?: number;
  /** At most this many cgroups are read per poll. Default 2000. */
  maxTargets?: number;
  onError?: (message: string) => void;
}

interface Watched {
  target: OomTarget;
  source: string;
  /** The last counter value seen; undefined until a first reading sets the baseline. */
  last: number | undefined;
  /** When it was added (a sequence number), so a listing begun earlier does not drop it. */
  seq: number;
}

/**
 * Polls the OOM-kill counters of a set of cgroups and reports each increase. Runs only
 * between start() and stop() (the events service starts it while someone listens). A cgroup
 * already there when the watch started counts from its current value (old kills are not
 * news); a new one (listed after a source's first listing, or created after the start) counts
 * from zero, so a kill that happened before the first reading reached it is reported too.
 */
export class OomWatch {
  private readonly watched = new Map<string, Watched>();
  private readonly listedOnce = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private polls = 0;
  private seq = 0;
  private startedAt = 0;
  private refreshing: Promise<void> | undefined;
  private readonly refreshEvery: number;
  private readonly maxTargets: number;

  constructor(private readonly options: OomWatchOptions) {
    this.refreshEvery = options.refreshEvery ?? 10;
    this.maxTargets = options.maxTargets ?? 2000;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** The paths being watched (for diagnostics and tests). */
  paths(): string[] {
    return [...this.watched.keys()];
  }

  /** Starts polling; resolves once the sources were listed and baselines read. */
  async start(): Promise<void> {
    if (this.timer) return this.refreshing;
    this.polls = 0;
    this.startedAt = Date.now();
    const interval = this.options.intervalMs;
    this.timer = setInterval(() => this.tick(), (typeof interval === 'function' ? interval() : interval) ?? 1000);
    this.timer.unref();
    await this.refresh();
  }

  /** Stops polling and forgets every baseline: the next start() begins afresh. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.watched.clear();
    this.listedOnce.clear();
  }

  /** The watched cgroup of a container. */
  pathOfContainer(containerId: string): string | undefined {
    for (const [path, entry] of this.watched) if (entry.target.containerId === containerId) return path;
    return undefined;
  }

  /** Watches one more cgroup now (a container that just started): `fresh` counts every kill it has. */
  add(target: OomTarget, source: string, fresh: boolean): void {
    if (!this.running) return;
    const known = this.watched.get(target.path);
    if (known) {
      known.target = { ...known.target, ...target };
      return;
    }
    if (this.watched.size >= this.maxTargets) return;
    const isNew = fresh || (target.createdAt !== undefined && target.createdAt >= this.startedAt);
    const entry: Watched = { target, source, last: isNew ? 0 : undefined, seq: ++this.seq };
    this.watched.set(target.path, entry);
    this.read(entry);
  }

  /** Reads one cgroup (or all) right away: a container's oom event arrives before its cgroup may vanish. */
  pollNow(path?: string): void {
    if (!this.running) return;
    if (path === undefined) {
      for (const entry of this.watched.values()) this.read(entry);
      return;
    }
    const entry = this.watched.get(path);
    if (entry) this.read(entry);
  }

  /** Stops watching one cgroup, after a last reading. */
  remove(path: string): void {
    const entry = this.watched.get(path);
    if (!entry) return;
    this.read(entry);
    this.watched.delete(path);
  }

  private tick(): void {
    this.polls++;
    if (this.polls % this.refreshEvery === 0 && !this.refreshing) void this.refresh();
    for (const entry of this.watched.values()) this.read(entry);
  }

  private read(entry: Watched): void {
    let total: number | null;
    try {
      total = this.options.readCounter(entry.target.path);
    } catch {
      total = null;
    }
    if (total === null) return;
    if (entry.last === undefined) {
      entry.last = total;
      return;
    }
    if (total > entry.last) {
      const kills = total - entry.last;
      entry.last = total;
      try {
        this.options.onKill({ ...entry.target, kills, total });
      } catch (err) {
        this.options.onError?.(`a consumer of OOM kills failed: ${(err as Error).message}`);
      }
    } else if (total < entry.last) {
      // a cgroup removed and made again under the same path
      entry.last = total;
    }
  }

  /** Lists every source again now (a managed cgroup was created or removed). */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        await Promise.all(this.options.sources.map((s) => this.refreshSource(s)));
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private async refreshSource(source: OomSource): Promise<void> {
    let targets: OomTarget[];
    const startedAt = this.seq;
    try {
      targets = await source.list();
    } catch (err) {
      // keep what this source had; try again at the next refresh
      this.options.onError?.(`listing ${source.name} cgroups failed: ${(err as Error).message}`);
      return;
    }
    if (!this.running) return;
    const fresh = this.listedOnce.has(source.name);
    this.listedOnce.add(source.name);
    const listed = new Set(targets.map((t) => t.path));
    for (const [path, entry] of this.watched) {
      if (entry.source === source.name && entry.seq <= startedAt && !listed.has(path)) this.remove(path);
    }
    for (const target of targets) this.add(target, source.name, fresh);
  }
}
