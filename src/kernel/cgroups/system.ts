import { NsgateError } from '../errors.js';
import { type HostTopology, readHostTopology } from './cpuset.js';
import type { CgroupDriver, Feature, FreezeState, LimitGroup, Limits, LimitsChange, SetLimitsOptions, StatGroup, Stats } from './driver.js';
import { type CgroupDir, CgroupFiles } from './files.js';
import { type LimitWrite, sleep } from './journal.js';
import { movedFields, parseLimitsInput } from './limits.js';
import { type CgroupHierarchy, type CgroupMode, cgroupModeOf, hierarchyLabel, membershipOf, readCgroupMounts } from './mounts.js';
import { cgroupMutex, type KeyedMutex } from './mutex.js';
import { assertManaged, DEFAULT_MANAGED_CGROUPS, isManaged, joinCgroupPath, normalizeManagedPrefixes, parseCgroupPath, pathChain } from './paths.js';
import { readProcessCgroups, type CgroupMembership } from '../procfs/cgroup.js';
import { readProcessStatus } from '../procfs/status.js';
import { type ProtectedProcesses, type ProtectedReason, protectedProcesses } from '../protected-processes.js';
import { processAlive, readProcessBrief } from './procs.js';
import { isBelowUsage, lowerWithReclaim, reclaimTimeout, stagedLoweringPlan, stagedTargetOf } from './reclaim.js';
import { movePidInto } from './shared.js';
import { V1Driver } from './v1.js';
import { refuseBelowUnreclaimable, V2Driver } from './v2.js';

export interface CgroupSystemOptions {
  /** The mounted hierarchies (readCgroupMounts(), or a fixture's). */
  hierarchies: readonly CgroupHierarchy[];
  /** NSGATE_MANAGED_CGROUPS: where changes are allowed. Default ["/nsgate"]. */
  managed?: readonly string[];
  /** A plain folder tree standing in for cgroupfs (unit tests): no statfs checks. Default false. */
  fixture?: boolean;
  /** Default "/proc". */
  procRoot?: string;
  /** Where the online CPU and node lists are read from. Default "/sys". */
  sysRoot?: string;
  /** The host's CPUs and memory nodes; read from sysRoot when not given. */
  topology?: HostTopology;
  /** Serializes changes per cgroup path; default one shared by the whole process. */
  mutex?: KeyedMutex;
  /** How a process is signalled when a cgroup is killed without cgroup.kill; default process.kill. */
  sendSignal?: (pid: number, signal: NodeJS.Signals) => void;
  /** What is never moved, frozen or killed; default the process-wide registry (nsgate, pid 1, helpers). */
  protectedProcesses?: ProtectedProcesses;
  /**
   * Features the drivers must treat as absent although the kernel has them: the older kernels'
   * paths on a new one (tests: `['kill']` is a 5.2-5.13 kernel without cgroup.kill).
   */
  withoutFeatures?: readonly Feature[];
}

export interface MoveOptions {
  /**
   * The process may come from cgroups nsgate does not manage (an admin's move). Default false:
   * it must sit in managed cgroups in every hierarchy the move writes.
   */
  fromUnmanaged?: boolean;
  /** nsgate placing a helper it has just spawned (exec, sandbox): the helper is its own to move. Implies fromUnmanaged. */
  ownHelper?: boolean;
}

export interface CgroupNode {
  path: string;
  /** 0 for the `under` cgroup itself. */
  depth: number;
  controllers: string[];
  /** Distinct pids across every hierarchy the cgroup is in. */
  processCount: number;
}

export interface CgroupTree {
  items: CgroupNode[];
  /** True when maxNodes cut the walk short. */
  truncated: boolean;
}

export interface CgroupInfo {
  path: string;
  /** The hierarchies it exists in ("memory", "cpu", "unified", "name=systemd"). */
  hierarchies: string[];
  controllers: string[];
  /**
   * v2 cgroup.type ("domain", "domain threaded", "domain invalid", "threaded"); null where the
   * cgroup is only in v1 hierarchies, and for the root.
   */
  type: string | null;
  limits: Limits;
  stats: Stats;
  processes: number[];
  freezer: FreezeState | null;
}

export interface LimitsUpdate {
  before: Limits;
  after: Limits;
  /** The files written, in order, each with the value it held and the value written (a dry run: would write). */
  writes?: LimitWrite[];
  /**
   * A dry run with strategy "reclaim" only: the stages a lowering below usage writes around the
   * limit writes (throttle, reclaim push, throttle put back), in order; [] when usage is under the
   * target. On v1 they follow only if the kernel refuses the plain write (it reclaims first itself).
   */
  stages?: LimitWrite[];
}

export interface CreateOptions {
  /** Limits to set right after creation (a LimitsInput: "64M", "max", ...). A refused limit removes what was created. */
  limits?: unknown;
}

export interface MoveResult {
  path: string;
  pid: number;
  hierarchies: string[];
}

export interface KillResult {
  path: string;
  /** True when v2 cgroup.kill did the work. */
  viaCgroupKill: boolean;
  /** Pids nsgate signalled itself (v1, or leftovers v2 did not cover). */
  signalled: number[];
}

export interface ListOptions {
  under?: string;
  /** How many levels below `under`; 0 = only `under`. Default 1. */
  depth?: number;
  /** Stop after this many nodes. Default 10000. */
  maxNodes?: number;
}

const LIMIT_FEATURE: Record<LimitGroup, Feature> = { memory: 'memory', cpu: 'cpu', pids: 'pids', cpuset: 'cpuset' };
const STAT_FEATURES: Record<StatGroup, Feature[]> = {
  memory: ['memory'],
  cpu: ['cpuacct', 'cpu'],
  pids: ['pids'],
  io: ['io'],
  pressure: ['pressure'],
};
const ALL_LIMIT_GROUPS: ReadonlySet<LimitGroup> = new Set(Object.keys(LIMIT_FEATURE) as LimitGroup[]);
const ALL_STAT_GROUPS: ReadonlySet<StatGroup> = new Set(Object.keys(STAT_FEATURES) as StatGroup[]);
const MAX_DEPTH = 64;

/**
 * The cgroup layer's public face: one vocabulary over whatever the host mounts. It routes each
 * item to the hierarchy that has it (on a hybrid host: the v1 controllers for limits and most
 * stats, the unified tree for pressure and cgroup.kill), creates, joins and removes cgroups in
 * every hierarchy, and serializes changes per cgroup. Every change is refused outside the
 * managed cgroups, validated before the first write, and undone when it fails half-way.
 */
export class CgroupSystem {
  readonly hierarchies: readonly CgroupHierarchy[];
  readonly mode: CgroupMode;
  readonly managed: readonly string[];
  readonly drivers: readonly CgroupDriver[];
  readonly files: CgroupFiles;
  private readonly procRoot: string;
  private readonly sysRoot: string;
  private hostTopology: HostTopology | undefined;
  private readonly mutex: KeyedMutex;
  private readonly sendSignal: (pid: number, signal: NodeJS.Signals) => void;
  private readonly protectedProcesses: ProtectedProcesses;

  constructor(options: CgroupSystemOptions) {
    this.hierarchies = [...options.hierarchies];
    this.mode = cgroupModeOf(this.hierarchies);
    this.managed = normalizeManagedPrefixes(options.managed ?? DEFAULT_MANAGED_CGROUPS);
    this.procRoot = options.procRoot ?? '/proc';
    this.sysRoot = options.sysRoot ?? '/sys';
    this.hostTopology = options.topology;
    this.mutex = options.mutex ?? cgroupMutex;
    this.sendSignal = options.sendSignal ?? ((pid, signal) => process.kill(pid, signal));
    this.protectedProcesses = options.protectedProcesses ?? protectedProcesses;
    this.files = new CgroupFiles({ managed: this.managed, fixture: options.fixture, procRoot: this.procRoot });
    const drivers: CgroupDriver[] = [];
    const v1 = this.hierarchies.filter((h) => h.version === 1);
    const without = { withoutFeatures: options.withoutFeatures ?? [] };
    if (v1.length) drivers.push(new V1Driver(v1, this.files, without));
    const v2 = this.hierarchies.find((h) => h.version === 2);
    if (v2) drivers.push(new V2Driver(v2, this.files, without));
    this.drivers = drivers;
  }

  /** The layer for this host: hierarchies from /proc/self/mountinfo. */
  static fromHost(options: Omit<CgroupSystemOptions, 'hierarchies'> = {}): CgroupSystem {
    return new CgroupSystem({ ...options, hierarchies: readCgroupMounts(options.procRoot) });
  }

  topology(): HostTopology {
    this.hostTopology ??= readHostTopology(this.sysRoot);
    return this.hostTopology;
  }

  isManaged(path: string): boolean {
    return isManaged(parseCgroupPath(path), this.managed);
  }

  /** The drivers that can serve a feature, v1 first (on hybrid hosts the controllers live there). */
  private driversWith(feature: Feature): CgroupDriver[] {
    return this.drivers.filter((d) => d.features.has(feature));
  }

  private presentIn(path: string): CgroupHierarchy[] {
    return this.drivers.flatMap((d) => d.presentIn(path));
  }

  private requireExists(path: string): CgroupHierarchy[] {
    const present = this.presentIn(path);
    if (present.length === 0) throw new NsgateError('CGROUP_NOT_FOUND', `cgroup ${path} does not exist`, { path });
    return present;
  }

  // ---- reads ---------------------------------------------------------------------------

  exists(pathInput: string): boolean {
    return this.presentIn(parseCgroupPath(pathInput)).length > 0;
  }

  readLimits(pathInput: string): Limits {
    const path = parseCgroupPath(pathInput);
    return this.files.operation(() => {
      this.requireExists(path);
      return this.limitsOf(path);
    });
  }

  /** The limits of `groups` (default all) from the first driver that has each. */
  private limitsOf(path: string, groups: Iterable<LimitGroup> = ALL_LIMIT_GROUPS): Limits {
    const limits: Limits = {};
    for (const group of groups) {
      for (const driver of this.driversWith(LIMIT_FEATURE[group])) {
        const got = driver.readLimits(path, new Set([group]))[group];
        if (got) {
          (limits as Record<string, unknown>)[group] = got;
          break;
        }
      }
    }
    return limits;
  }

  /** The cgroup's stats, of `groups` only when given (the history sampler skips I/O). */
  readStats(pathInput: string, groups?: ReadonlySet<StatGroup>): Stats {
    const path = parseCgroupPath(pathInput);
    return this.files.operation(() => {
      this.requireExists(path);
      return this.statsOf(path, groups);
    });
  }

  private statsOf(path: string, groups: ReadonlySet<StatGroup> = ALL_STAT_GROUPS): Stats {
    const stats: Record<string, Record<string, unknown>> = {};
    for (const group of groups) {
      const drivers = this.drivers.filter((d) => STAT_FEATURES[group].some((f) => d.features.has(f)));
      for (const driver of drivers) {
        const got = driver.readStats(path, new Set([group]))[group] as Record<string, unknown> | undefined;
        if (!got) continue;
        // Field by field, the first driver that knows a value wins (v1 cpuacct usage, v2 fills the gaps).
        const into = (stats[group] ??= {});
        for (const [key, value] of Object.entries(got)) if (into[key] === undefined || into[key] === null) into[key] = value;
      }
    }
    return stats as Stats;
  }

  processes(pathInput: string): number[] {
    const path = parseCgroupPath(pathInput);
    return this.files.operation(() => {
      this.requireExists(path);
      return this.processesOf(path);
    });
  }

  private processesOf(path: string): number[] {
    const pids = new Set<number>();
    for (const d of this.drivers) for (const pid of d.processes(path)) pids.add(pid);
    return [...pids].sort((a, b) => a - b);
  }

  private typeOf(path: string): string | null {
    for (const d of this.drivers) if (d instanceof V2Driver) return d.typeOf(path);
    return null;
  }

  private controllersOf(path: string): string[] {
    return [...new Set(this.drivers.flatMap((d) => d.controllersOf(path)))].sort();
  }

  freezeState(pathInput: string): FreezeState | null {
    const path = parseCgroupPath(pathInput);
    return this.files.operation(() => this.freezeStateOf(path));
  }

  private freezeStateOf(path: string): FreezeState | null {
    for (const d of this.driversWith('freezer')) {
      const state = d.freezeState(path);
      if (state) return state;
    }
    return null;
  }

  /** One cgroup: where it exists, its controllers, limits, stats, processes and freezer state. */
  get(pathInput: string): CgroupInfo {
    const path = parseCgroupPath(pathInput);
    // one operation: each hierarchy's directory is looked up and checked once for all of it
    return this.files.operation(() => {
      const present = this.requireExists(path);
      return {
        path,
        hierarchies: present.map(hierarchyLabel),
        controllers: this.controllersOf(path),
        type: this.typeOf(path),
        limits: this.limitsOf(path),
        stats: this.statsOf(path),
        processes: this.processesOf(path),
        freezer: this.freezeStateOf(path),
      };
    });
  }

  /** The tree below `under` (breadth first, paths sorted per level), each node with controllers and process count. */
  list(options: ListOptions = {}): CgroupTree {
    const under = parseCgroupPath(options.under ?? '/');
    const depth = options.depth ?? 1;
    if (!Number.isSafeInteger(depth) || depth < 0 || depth > MAX_DEPTH) {
      throw new NsgateError('VALIDATION_FAILED', `depth must be between 0 and ${MAX_DEPTH}`, { depth });
    }
    const maxNodes = options.maxNodes ?? 10_000;
    this.requireExists(under);
    const items: CgroupNode[] = [];
    let level = [under];
    for (let d = 0; d <= depth && level.length; d++) {
      const next: string[] = [];
      for (const path of level) {
        if (items.length >= maxNodes) return { items, truncated: true };
        try {
          const node: CgroupNode = { path, depth: d, controllers: this.controllersOf(path), processCount: this.processesOf(path).length };
          const names = d < depth ? new Set(this.drivers.flatMap((drv) => drv.childrenOf(path))) : new Set<string>();
          items.push(node);
          for (const name of [...names].sort()) next.push(joinCgroupPath(path, name));
        } catch (err) {
          // A mount planted inside the tree is not followed: the listing goes on without it
          // (reading it alone answers CGROUP_MOUNT_CROSSED).
          if (d > 0 && err instanceof NsgateError && err.code === 'CGROUP_MOUNT_CROSSED') continue;
          throw err;
        }
      }
      level = next;
    }
    return { items, truncated: false };
  }

  // ---- changes -------------------------------------------------------------------------

  /** Validates, writes in the order that always succeeds, reads back: {before, after} as the kernel has them. */
  async setLimits(pathInput: string, input: unknown, options: SetLimitsOptions = {}): Promise<LimitsUpdate> {
    const path = parseCgroupPath(pathInput);
    this.files.assertWritable(path);
    const change = parseLimitsInput(input, this.topology());
    const plan = this.planChange(path, change);
    const staged = stagedTargetOf(change, options);
    return this.mutex.run(path, () =>
      // one operation: each directory is looked up and checked once, then used for the reads
      // and writes that follow (each write still checks the file it opened)
      this.files.operation(async () => {
        const present = this.requireExists(path);
        try {
          const before = this.limitsOf(path);
          options.precondition?.(before);
          const writes: LimitWrite[] = [];
          const recorded: SetLimitsOptions = { ...options, onWrite: (w) => (writes.push(w), options.onWrite?.(w)) };
          const attempt = () => {
            writes.length = 0;
            return this.applyPlan(path, plan, before, recorded);
          };
          if (staged && options.dryRun) {
            // a dry run of a staged lowering writes nothing either: it answers the limit writes as
            // the lowering would make them once usage is under the target, and the stages around them
            const stages = this.stagedPlan(path, staged.target, change.memory?.high !== undefined);
            try {
              await attempt();
            } catch (err) {
              if (!isBelowUsage(err)) throw err;
              await this.applyPlan(path, plan, before, { ...recorded, force: true });
            }
            return { before, after: before, writes, stages };
          }
          if (staged) await this.lowerStaged(path, staged.target, staged.timeoutMs, attempt, change.memory?.high !== undefined);
          else await attempt();
          // a dry run changed nothing: its after is the before, its writes the plan
          if (options.dryRun) return { before, after: before, writes };
          // read back what the change touched; the rest is as read a moment ago under the same lock
          return { before, after: { ...before, ...this.limitsOf(path, touchedGroups(plan)) }, writes };
        } catch (err) {
          throw this.goneIfVanished(err, path, present);
        }
      }),
    );
  }

  /** lowerWithReclaim on the cgroup's memory directory; `attempt` must refuse (LIMIT_BELOW_USAGE) rather than OOM-kill. */
  private lowerStaged<T>(path: string, target: number, timeoutMs: number, attempt: () => Promise<T>, changeSetsHigh = false): Promise<T> {
    const { driver, dir } = this.memoryDir(path);
    return lowerWithReclaim({ version: driver.version, dir, target, timeoutMs, attempt, changeSetsHigh });
  }

  /** The stages a lowering to `target` would write now (stagedLoweringPlan), for a dry run. */
  private stagedPlan(path: string, target: number, changeSetsHigh: boolean): LimitWrite[] {
    const { driver, dir } = this.memoryDir(path);
    return stagedLoweringPlan({ version: driver.version, dir, target, changeSetsHigh });
  }

  /** For a container's dry run with strategy "reclaim": the stages a lowering to `target` would write now. */
  containerStagedPlan(pathInput: string, target: number): LimitWrite[] {
    const path = parseCgroupPath(pathInput);
    this.requireExists(path);
    return this.stagedPlan(path, target, false);
  }

  /** The driver and directory that hold the cgroup's memory controller. */
  private memoryDir(path: string): { driver: CgroupDriver; dir: CgroupDir } {
    const driver = this.driversWith('memory')[0];
    const h = driver?.hierarchies.find((x) => x.version === 2 || x.controllers.includes('memory'));
    const dir = h ? this.files.dir(h, path) : null;
    if (!driver || !dir) throw new NsgateError('CONTROLLER_UNAVAILABLE', `cgroup ${path} has no memory controller`, { path, controller: 'memory' });
    return { driver, dir };
  }

  /**
   * A container's memory lowered in stages: the throttle is written to its own cgroup (outside
   * the managed tree, named by the live model), the limit itself through `viaEngine` so the
   * engine keeps what the kernel has. On v2 the engine is asked only once usage is under the
   * target (its write would let the kernel OOM-kill); on v1 its refused write is the probe.
   */
  async lowerContainerMemory<T>(pathInput: string, target: number, timeoutMsInput: number | undefined, viaEngine: () => Promise<T>): Promise<T> {
    const path = parseCgroupPath(pathInput);
    const timeoutMs = reclaimTimeout(timeoutMsInput);
    return this.files.admitting(path, () =>
      this.mutex.run(path, () =>
        this.files.operation(async () => {
          this.requireExists(path);
          const { driver, dir } = this.memoryDir(path);
          // v2: the same refusal as a managed cgroup's change (the v2 driver's, against what cannot be reclaimed)
          const attempt =
            driver.version === 2
              ? async () => {
                  refuseBelowUnreclaimable(dir, target);
                  return viaEngine();
                }
              : viaEngine;
          return this.lowerStaged(path, target, timeoutMs, attempt);
        }),
      ),
    );
  }

  /**
   * Writes limits into a container's own cgroup (outside the managed tree): only to put the
   * engine's values back where the kernel drifted from them (reconcile).
   */
  writeContainerCgroup(pathInput: string, input: unknown, options: Pick<SetLimitsOptions, 'precondition' | 'dryRun'> = {}): Promise<LimitsUpdate> {
    const path = parseCgroupPath(pathInput);
    return this.files.admitting(path, () => this.setLimits(path, input, options));
  }

  /**
   * A cgroup removed by someone else during a change (a container exiting, an rmdir by hand)
   * shows up as a missing controller file or directory half-way: that is CGROUP_GONE (410), not
   * CONTROLLER_UNAVAILABLE (422). Any hierarchy that held the cgroup when the change started and
   * no longer does means it vanished.
   */
  private goneIfVanished(err: unknown, path: string, present: readonly CgroupHierarchy[]): unknown {
    if (!(err instanceof NsgateError) || err.code === 'CGROUP_GONE') return err;
    if (!['CONTROLLER_UNAVAILABLE', 'CGROUP_NOT_FOUND', 'NOT_FOUND', 'INTERNAL'].includes(err.code)) return err;
    let now: CgroupHierarchy[];
    try {
      now = this.files.fresh(() => this.presentIn(path));
    } catch {
      return err;
    }
    if (present.every((h) => now.includes(h))) return err;
    return new NsgateError('CGROUP_GONE', `cgroup ${path} was removed while it was being changed`, { path, cause: err.code });
  }

  private planChange(path: string, change: LimitsChange): Map<CgroupDriver, LimitsChange> {
    const plan = new Map<CgroupDriver, LimitsChange>();
    for (const group of Object.keys(change) as LimitGroup[]) {
      const part = change[group];
      if (!part || Object.values(part).every((v) => v === undefined)) continue;
      const driver = this.driversWith(LIMIT_FEATURE[group])[0];
      if (!driver) {
        throw new NsgateError('CONTROLLER_UNAVAILABLE', `no ${LIMIT_FEATURE[group]} controller is mounted on this host`, { path, controller: LIMIT_FEATURE[group] });
      }
      const forDriver = plan.get(driver) ?? {};
      (forDriver as Record<string, unknown>)[group] = part;
      plan.set(driver, forDriver);
    }
    return plan;
  }

  /**
   * Puts back what a change did (its before values, for the fields it moved), with force: the
   * way back for a change whose audit line could not be written.
   */
  async revertLimits(pathInput: string, update: LimitsUpdate, options: SetLimitsOptions & { onlyIfUnchanged?: boolean } = { force: true }): Promise<void> {
    const path = parseCgroupPath(pathInput);
    assertManaged(path, this.managed);
    const moved = movedFields(update.before, update.after);
    const staged = stagedTargetOf({ memory: { max: moved.memory?.max === undefined ? undefined : update.before.memory?.max } }, options);
    await this.mutex.run(path, async () => {
      this.requireExists(path);
      if (options.onlyIfUnchanged) {
        // under the lock: a change that got in first (through nsgate or by hand) wins over the way back
        const since = movedFields(update.after, this.limitsOf(path, Object.keys(moved) as LimitGroup[]));
        const touched = (Object.keys(moved) as LimitGroup[]).filter((g) => since[g] && Object.keys(moved[g]!).some((k) => k in since[g]!));
        if (touched.length) throw new NsgateError('CONFLICT', `cgroup ${path} changed since (${touched.join(', ')}); nothing was put back`, { path, changed: touched });
      }
      // the same way back as a change that fails half-way: each driver gets its before values
      const write = async () => {
        for (const [driver, part] of this.planChange(path, moved)) await driver.writeLimits(path, restoreOf(update.before, part, driver.version), options);
      };
      // a lease putting a raised memory limit back down goes in stages ("reclaim"), never through an OOM kill
      if (staged) await this.lowerStaged(path, staged.target, staged.timeoutMs, write);
      else await write();
    });
  }

  private async applyPlan(path: string, plan: Map<CgroupDriver, LimitsChange>, before: Limits, options: SetLimitsOptions): Promise<void> {
    const done: [CgroupDriver, LimitsChange][] = [];
    try {
      for (const [driver, part] of plan) {
        await driver.writeLimits(path, part, options);
        done.push([driver, part]);
      }
    } catch (err) {
      // Each driver undoes its own writes; here the drivers that had finished are put back too.
      for (const [driver, part] of done.reverse()) {
        await driver.writeLimits(path, restoreOf(before, part, driver.version), { force: true }).catch(() => undefined);
      }
      throw err;
    }
  }

  /**
   * mkdir in every hierarchy, creating missing managed ancestors too; then the optional limits.
   * Validation happens before the first mkdir; any failure removes every directory this call made.
   */
  async create(pathInput: string, options: CreateOptions = {}): Promise<CgroupInfo> {
    const path = parseCgroupPath(pathInput);
    assertManaged(path, this.managed);
    const change = options.limits === undefined ? undefined : parseLimitsInput(options.limits, this.topology());
    const plan = change ? this.planChange(path, change) : undefined;
    await this.mutex.run(path, async () => {
      const present = this.presentIn(path);
      if (present.length) {
        throw new NsgateError('CGROUP_EXISTS', `cgroup ${path} already exists`, { path, hierarchies: present.map(hierarchyLabel) });
      }
      const made: [CgroupDriver, string, CgroupHierarchy[]][] = [];
      try {
        for (const p of pathChain(path)) {
          const complete = this.drivers.every((d) => d.presentIn(p).length === d.hierarchies.length);
          if (complete && p !== path) continue;
          if (!isManaged(p, this.managed)) {
            throw new NsgateError('CGROUP_NOT_FOUND', `parent cgroup ${p} does not exist in every hierarchy, and it is not nsgate's to create`, { path: p });
          }
          for (const d of this.drivers) {
            const hs = await d.create(p);
            made.push([d, p, hs]);
            if (hs.length) await d.prepare(p);
          }
        }
        if (plan) await this.applyPlan(path, plan, {}, {});
      } catch (err) {
        for (const [d, p, hs] of made.reverse()) await d.remove(p, hs).catch(() => undefined);
        throw err;
      }
    });
    return this.get(path);
  }

  /** rmdir in every hierarchy. Refused with CGROUP_NOT_EMPTY while it has processes or child cgroups. */
  async delete(pathInput: string): Promise<void> {
    const path = parseCgroupPath(pathInput);
    assertManaged(path, this.managed);
    await this.mutex.run(path, async () => {
      this.requireExists(path);
      const children = [...new Set(this.drivers.flatMap((d) => d.childrenOf(path)))];
      if (children.length) {
        throw new NsgateError('CGROUP_NOT_EMPTY', `cgroup ${path} has child cgroups; remove them first`, { path, children: children.sort() });
      }
      const live = this.processesOf(path).filter((pid) => processAlive(this.procRoot, pid));
      if (live.length) {
        throw new NsgateError('CGROUP_NOT_EMPTY', `cgroup ${path} still has ${live.length} process(es); move or kill them first`, { path, processes: live });
      }
      for (const d of this.drivers) await d.remove(path);
    });
  }

  /**
   * Writes the pid to cgroup.procs in every hierarchy the cgroup is in (v2 first: it is the one
   * that can refuse). Refused for what is never moved (see assertMovable) and, unless
   * fromUnmanaged, for a process that sits outside the managed cgroups in any of those hierarchies.
   */
  async moveProcess(pathInput: string, pid: number, options: MoveOptions = {}): Promise<MoveResult> {
    const path = parseCgroupPath(pathInput);
    assertManaged(path, this.managed);
    if (!Number.isSafeInteger(pid) || pid <= 0) throw new NsgateError('VALIDATION_FAILED', `not a process id: ${pid}`, { pid });
    return this.mutex.run(path, () =>
      this.files.operation(async () => {
        const present = this.requireExists(path);
        this.assertMovable(pid, options.ownHelper ?? false);
        if (!options.fromUnmanaged && !options.ownHelper) this.assertInManagedCgroups(pid, present);
        await this.movePidEverywhere(path, pid, present);
        return { path, pid, hierarchies: present.map(hierarchyLabel) };
      }),
    );
  }

  /**
   * cgroup.procs in each hierarchy, v2 first (it is the one that can refuse for its own
   * reasons). All or nothing: when one hierarchy refuses, the process is put back where it was
   * in each hierarchy already written, so it is never left split across them; what could not
   * be put back is named in the error's details (`notRestored`).
   */
  private async movePidEverywhere(path: string, pid: number, present: readonly CgroupHierarchy[]): Promise<void> {
    const memberships = readProcessCgroups(pid, { procRoot: this.procRoot });
    const from = (h: CgroupHierarchy): string | null => memberships.find((m) => membershipOf(m, h))?.path ?? null;
    const order = [...present].sort((a, b) => b.version - a.version);
    const done: CgroupHierarchy[] = [];
    try {
      for (const h of order) {
        const dir = this.files.dir(h, path);
        if (!dir) throw new NsgateError('CGROUP_GONE', `cgroup ${path} disappeared`, { path, hierarchy: hierarchyLabel(h) });
        if (from(h) === path) continue;
        await movePidInto(dir, pid);
        done.push(h);
      }
    } catch (err) {
      const notRestored: { hierarchy: string; cgroup: string | null; reason: string }[] = [];
      for (const h of done.reverse()) {
        const back = from(h);
        try {
          if (back === null) throw new Error('it was in no cgroup of this hierarchy before');
          await this.files.restoreProcess(h, back, pid);
        } catch (e) {
          notRestored.push({ hierarchy: hierarchyLabel(h), cgroup: back, reason: e instanceof Error ? e.message : String(e) });
        }
      }
      if (notRestored.length && err instanceof NsgateError) throw new NsgateError(err.code, err.message, { ...(err.details ?? {}), notRestored });
      throw err;
    }
  }

  /** Gone, a zombie (nothing would move), a kernel thread, or protected: refused with a code. */
  private assertMovable(pid: number, ownHelper: boolean): void {
    const brief = readProcessBrief(this.procRoot, pid);
    if (!brief) throw new NsgateError('PROCESS_NOT_FOUND', `process ${pid} does not exist`, { pid });
    if (brief.kernelThread) throw new NsgateError('KERNEL_THREAD', `process ${pid} is a kernel thread; the kernel does not move those`, { pid });
    if (brief.state === 'Z' || brief.state === 'X') {
      throw new NsgateError('PROCESS_GONE', `process ${pid} has exited and only waits to be reaped (a zombie); there is nothing to move`, { pid, state: brief.state });
    }
    // A thread id moves its whole thread group: judge the group.
    const { tgid } = readProcessStatus(pid, { procRoot: this.procRoot });
    const reason = this.protectedProcesses.reasonFor(tgid);
    if (reason && !(ownHelper && reason === 'helper')) {
      throw new NsgateError('PROCESS_PROTECTED', `process ${pid} is ${PROTECTED_TEXT[reason]}; nsgate never moves it`, { pid, tgid, reason });
    }
  }

  private assertInManagedCgroups(pid: number, hierarchies: readonly CgroupHierarchy[]): void {
    const memberships = readProcessCgroups(pid, { procRoot: this.procRoot });
    const outside: Record<string, string | null> = {};
    for (const h of hierarchies) {
      const from = memberships.find((m) => membershipOf(m, h))?.path ?? null;
      if (from === null || !isManaged(from, this.managed)) outside[hierarchyLabel(h)] = from;
    }
    if (Object.keys(outside).length) {
      throw new NsgateError('CGROUP_NOT_MANAGED', `process ${pid} is in cgroups nsgate does not manage; only an admin may move it out of them`, { pid, from: outside });
    }
  }

  /** Freeze and kill never reach pid 1, nsgate or its helpers: refused while the subtree holds one. */
  private assertHoldsNoProtected(path: string, action: 'freeze' | 'kill', ownHelper = false): void {
    for (const pid of this.subtreePids(path)) {
      // cgroup.procs lists thread group ids, so each pid here is a whole process
      const reason = this.protectedProcesses.reasonFor(pid);
      if (reason && !(ownHelper && reason === 'helper')) {
        throw new NsgateError('PROCESS_PROTECTED', `cgroup ${path} holds ${PROTECTED_TEXT[reason]} (pid ${pid}); nsgate never ${action}s it`, { path, pid, reason });
      }
    }
  }

  /** Freezes and waits until the kernel reports frozen (v1 freezer.state FROZEN, v2 cgroup.events frozen 1). */
  async freeze(pathInput: string, options: { timeoutMs?: number } = {}): Promise<FreezeState> {
    return this.freezer(pathInput, 'freeze', options);
  }

  async thaw(pathInput: string, options: { timeoutMs?: number } = {}): Promise<FreezeState> {
    return this.freezer(pathInput, 'thaw', options);
  }

  private async freezer(pathInput: string, action: 'freeze' | 'thaw', options: { timeoutMs?: number }): Promise<FreezeState> {
    const path = parseCgroupPath(pathInput);
    assertManaged(path, this.managed);
    return this.mutex.run(path, () =>
      this.files.operation(async () => {
        this.requireExists(path);
        if (action === 'freeze') this.assertHoldsNoProtected(path, 'freeze');
        const driver = this.driversWith('freezer').find((d) => d.freezeState(path) !== null);
        if (!driver) throw new NsgateError('CONTROLLER_UNAVAILABLE', `cgroup ${path} has no freezer`, { path });
        await driver[action](path, options);
        return driver.freezeState(path) ?? (action === 'freeze' ? 'frozen' : 'thawed');
      }),
    );
  }

  /**
   * Kills every process of the cgroup and its descendants: v2 cgroup.kill where the cgroup has
   * it (5.14+), then SIGKILL to each pid still listed (v1, kernels 5.2-5.13, or processes outside
   * the unified tree), with a freezer holding them still so none can fork or exit-and-be-reused
   * meanwhile: the v1 freezer, else v2 cgroup.freeze (as runc does). Repeats until nothing is
   * left alive, or answers CGROUP_BUSY after timeoutMs.
   */
  async kill(pathInput: string, options: { timeoutMs?: number; ownHelper?: boolean } = {}): Promise<KillResult> {
    const path = parseCgroupPath(pathInput);
    assertManaged(path, this.managed);
    const timeoutMs = options.timeoutMs ?? 5000;
    return this.mutex.run(path, async () => {
      this.requireExists(path);
      this.assertHoldsNoProtected(path, 'kill', options.ownHelper === true);
      const result: KillResult = { path, viaCgroupKill: false, signalled: [] };
      const v2 = this.driversWith('kill').find((d) => d.presentIn(path).length > 0);
      if (v2) {
        try {
          await v2.kill(path);
          result.viaCgroupKill = true;
        } catch (err) {
          if (!(err instanceof NsgateError && err.code === 'CONTROLLER_UNAVAILABLE')) throw err;
        }
      }
      const signalled = new Set<number>();
      const until = Date.now() + timeoutMs;
      for (let round = 0; ; round++) {
        const alive = this.subtreePids(path).filter((pid) => processAlive(this.procRoot, pid));
        if (alive.length === 0) break;
        if (Date.now() > until) {
          throw new NsgateError('CGROUP_BUSY', `cgroup ${path} still has live processes after ${timeoutMs} ms`, { path, remaining: alive });
        }
        // Give cgroup.kill a moment before signalling one by one.
        if (!(result.viaCgroupKill && round < 5)) await this.signalFrozen(path, alive, signalled);
        await sleep(20);
      }
      result.signalled = [...signalled].sort((a, b) => a - b);
      return result;
    });
  }

  /**
   * SIGKILL to each pid while a freezer holds the cgroup and its children, then thaw: the v1
   * freezer first (a frozen task dies as soon as it is thawed), else v2 cgroup.freeze (a fatal
   * signal reaches a task frozen there). Without either, the pids are signalled as they run.
   */
  private async signalFrozen(path: string, pids: number[], signalled: Set<number>): Promise<void> {
    const freezer = this.driversWith('freezer').find((d) => d.freezeState(path) !== null);
    const wasFrozen = freezer?.freezeState(path) === 'frozen';
    if (freezer && !wasFrozen) await freezer.freeze(path, { timeoutMs: 1000 }).catch(() => undefined);
    try {
      // Re-read under the freezer: the list cannot change any more.
      const alive = freezer ? this.subtreePids(path).filter((pid) => processAlive(this.procRoot, pid)) : pids;
      for (const pid of alive) {
        try {
          this.sendSignal(pid, 'SIGKILL');
          signalled.add(pid);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
        }
      }
    } finally {
      if (freezer) await freezer.thaw(path, { timeoutMs: 1000 }).catch(() => undefined);
    }
  }

  private subtreePids(path: string, budget = { nodes: 10_000 }): number[] {
    const pids = new Set(this.processesOf(path));
    if (--budget.nodes <= 0) return [...pids];
    for (const name of new Set(this.drivers.flatMap((d) => d.childrenOf(path)))) {
      for (const pid of this.subtreePids(joinCgroupPath(path, name), budget)) pids.add(pid);
    }
    return [...pids];
  }
}

/** The limit groups a plan writes: what a change's answer reads back. */
function touchedGroups(plan: Map<CgroupDriver, LimitsChange>): LimitGroup[] {
  const groups = new Set<LimitGroup>();
  for (const part of plan.values()) for (const group of Object.keys(part) as LimitGroup[]) if (part[group]) groups.add(group);
  return [...groups];
}

const PROTECTED_TEXT: Record<ProtectedReason, string> = {
  init: "pid 1 of nsgate's pid namespace",
  nsgate: 'nsgate itself',
  helper: 'one of nsgate\'s own helpers',
};

/** The "before" values of the fields a change touched, to put them back (shares on v1, weight on v2: exact there). */
function restoreOf(before: Limits, part: LimitsChange, version: 1 | 2): LimitsChange {
  const restore: LimitsChange = {};
  if (part.memory && before.memory) {
    restore.memory = {};
    if (part.memory.max !== undefined || part.memory.swapMax !== undefined) {
      restore.memory.max = before.memory.max;
      restore.memory.swapMax = before.memory.swapMax;
    }
    if (part.memory.high !== undefined && version === 2) restore.memory.high = before.memory.high;
  }
  if (part.cpu && before.cpu) {
    restore.cpu = {};
    if (part.cpu.quotaUs !== undefined || part.cpu.periodUs !== undefined) {
      restore.cpu.quotaUs = before.cpu.quotaUs;
      restore.cpu.periodUs = before.cpu.periodUs;
    }
    if (part.cpu.weight !== undefined || part.cpu.shares !== undefined) {
      if (version === 1) restore.cpu.shares = before.cpu.shares;
      else restore.cpu.weight = before.cpu.weight;
    }
  }
  if (part.pids && before.pids) restore.pids = { max: before.pids.max };
  if (part.cpuset && before.cpuset) restore.cpuset = { cpus: before.cpuset.cpus, mems: before.cpuset.mems };
  return restore;
}
