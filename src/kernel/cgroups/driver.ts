import type { CgroupHierarchy } from './mounts.js';

/*
 * The one vocabulary callers speak, for v1 and v2 alike. Conventions:
 * - null means unlimited ("max" on v2, -1 / 9223372036854771712 on v1);
 * - bytes and counters are plain numbers (exact below 2^53; a v1 limit above that reads as null);
 * - a group (memory, cpu, ...) is absent when no hierarchy serves that controller for the cgroup;
 * - a field is null in stats when the kernel has no such file (e.g. memory.peak before 5.19).
 */

export interface MemoryLimits {
  /** v1 memory.limit_in_bytes, v2 memory.max. */
  max: number | null;
  /** v2 memory.high. v1 has no equivalent: always null there, and only null may be written. */
  high: number | null;
  /**
   * Swap only, not memory+swap. v2 memory.swap.max as is; v1 keeps memory+swap in
   * memory.memsw.limit_in_bytes, so it reads as memsw - max and is written as max + swapMax.
   * v1 cannot limit swap while memory is unlimited: with max null, swapMax reads as the memsw
   * limit (an upper bound) and writing a number there is refused.
   */
  swapMax: number | null;
}

export interface CpuLimits {
  /** CFS quota per period in µs (v1 cpu.cfs_quota_us, v2 cpu.max first field); null = no quota. */
  quotaUs: number | null;
  /** CFS period in µs (v1 cpu.cfs_period_us, v2 cpu.max second field). */
  periodUs: number;
  /** v2 cpu.weight (1..10000); on v1 converted from cpu.shares. */
  weight: number;
  /** v1 cpu.shares (2..262144); on v2 converted back from cpu.weight (approximate). */
  shares: number;
}

export interface PidsLimits {
  max: number | null;
}

export interface CpusetLimits {
  /** As the kernel prints it ("0-1,3"); on v2 "" means "whatever the parent allows". */
  cpus: string;
  mems: string;
  /**
   * What is in effect (read only): v2 cpuset.cpus.effective, v1 cpuset.effective_cpus. On v2 a
   * child may ask for CPUs its parent does not have; the kernel keeps the request and clips this.
   * null where the kernel has no such file.
   */
  effectiveCpus: string | null;
  /** v2 cpuset.mems.effective, v1 cpuset.effective_mems. */
  effectiveMems: string | null;
}

export interface Limits {
  memory?: MemoryLimits;
  cpu?: CpuLimits;
  pids?: PidsLimits;
  cpuset?: CpusetLimits;
}

/** A requested change, already parsed: undefined leaves a field as it is. */
export interface LimitsChange {
  memory?: { max?: number | null; high?: number | null; swapMax?: number | null };
  cpu?: { quotaUs?: number | null; periodUs?: number; weight?: number; shares?: number };
  pids?: { max?: number | null };
  cpuset?: { cpus?: string; mems?: string };
}

export interface MemoryStats {
  usage: number | null;
  /** v1 memory.max_usage_in_bytes, v2 memory.peak (5.19+). */
  peak: number | null;
  limit: number | null;
  /** v1 memory.failcnt; v2 the "max" count of memory.events (times the limit was hit). */
  failcnt: number | null;
  /** v2 memory.events "oom"; v1 has no count (null). */
  oomEvents: number | null;
  /** v2 memory.events "oom_kill", v1 memory.oom_control "oom_kill" (4.13+). */
  oomKills: number | null;
  anon: number | null;
  file: number | null;
  kernel: number | null;
  inactiveFile: number | null;
  /** Swap the cgroup uses: v1 memory.stat total_swap (with swap accounting), v2 memory.swap.current. */
  swap: number | null;
}

export interface CpuStats {
  usageNs: number | null;
  userNs: number | null;
  systemNs: number | null;
  nrPeriods: number | null;
  nrThrottled: number | null;
  throttledUs: number | null;
}

export interface PidsStats {
  current: number | null;
  max: number | null;
}

export interface PressureLine {
  avg10: number;
  avg60: number;
  avg300: number;
  /** Microseconds. */
  total: number;
}

export interface PressureFile {
  some: PressureLine | null;
  full: PressureLine | null;
}

export interface PressureStats {
  cpu: PressureFile | null;
  memory: PressureFile | null;
  io: PressureFile | null;
}

export interface IoStats {
  readBytes: number;
  writeBytes: number;
}

export interface Stats {
  memory?: MemoryStats;
  cpu?: CpuStats;
  pids?: PidsStats;
  pressure?: PressureStats;
  io?: IoStats;
}

/**
 * What a driver can do for a cgroup; the facade routes each one to the driver that has it
 * (on a hybrid host: v1 for the controllers, v2 for pressure and cgroup.kill).
 * - cpuacct: cpu usage counters (v1 cpuacct; v2 cpu.stat, always there);
 * - freezer: v1 freezer.state or v2 cgroup.freeze; kill: v2 cgroup.kill.
 */
export type Feature = 'memory' | 'cpu' | 'cpuacct' | 'pids' | 'cpuset' | 'io' | 'freezer' | 'kill' | 'pressure';

export type LimitGroup = keyof Limits;
export type StatGroup = keyof Stats;

export type FreezeState = 'thawed' | 'freezing' | 'frozen';

export interface SetLimitsOptions {
  /** v2 only: allow memory.max below current usage (the kernel then reclaims, and OOM-kills if it cannot). */
  force?: boolean;
  /** Decide every write but make none (see WriteJournal). */
  dryRun?: boolean;
  /** Told of each file write, in order (see WriteJournal). */
  onWrite?: (write: { file: string; from: string; to: string }) => void;
  /** Called under the cgroup's lock with the limits read just before the first write; throws to refuse (If-Match). */
  precondition?: (before: Limits) => void;
}

export interface DriverOptions {
  /** Features to treat as absent although the kernel has them (see CgroupSystemOptions.withoutFeatures). */
  withoutFeatures?: readonly Feature[];
}

/** The detected features less the ones a caller asked to do without. */
export function featuresWithout(detected: Iterable<Feature>, options: DriverOptions = {}): ReadonlySet<Feature> {
  const without = new Set(options.withoutFeatures ?? []);
  return new Set([...detected].filter((f) => !without.has(f)));
}

export interface TimeoutOptions {
  timeoutMs?: number;
}

/**
 * One cgroup version's way of doing things. A v1 driver spans every v1 hierarchy (one per
 * controller), a v2 driver the unified tree. Paths are cgroup paths ("/nsgate/a"), already
 * validated by the caller; the driver never sees a filesystem path from outside.
 */
export interface CgroupDriver {
  readonly version: 1 | 2;
  readonly hierarchies: readonly CgroupHierarchy[];
  /** What this driver can serve on this host, from its mounts (and, for v2, the root's cgroup.controllers). */
  readonly features: ReadonlySet<Feature>;

  /** The hierarchies where the cgroup exists. */
  presentIn(path: string): CgroupHierarchy[];
  /** The controllers the cgroup has here (v1: of the hierarchies it exists in; v2: its cgroup.controllers). */
  controllersOf(path: string): string[];
  /** Names of child cgroups, across this driver's hierarchies. */
  childrenOf(path: string): string[];
  /** Pids in cgroup.procs, across this driver's hierarchies (deduplicated, ascending). */
  processes(path: string): number[];

  /** mkdir in each of this driver's hierarchies where missing; returns the hierarchies it made the directory in. */
  create(path: string): Promise<CgroupHierarchy[]>;
  /** Makes a new cgroup usable: v1 copies cpuset.cpus/mems from the parent, v2 enables controllers in a managed parent. */
  prepare(path: string): Promise<void>;
  /** rmdir in the given hierarchies (default: all where present). */
  remove(path: string, hierarchies?: readonly CgroupHierarchy[]): Promise<void>;

  readLimits(path: string, groups: ReadonlySet<LimitGroup>): Limits;
  readStats(path: string, groups: ReadonlySet<StatGroup>): Stats;
  /** Writes the groups of `change` this driver was given; on failure restores what it had written. */
  writeLimits(path: string, change: LimitsChange, options?: SetLimitsOptions): Promise<void>;

  /** Writes pid to cgroup.procs in every hierarchy where the cgroup exists. */
  movePid(path: string, pid: number): Promise<void>;
  freezeState(path: string): FreezeState | null;
  freeze(path: string, options?: TimeoutOptions): Promise<void>;
  thaw(path: string, options?: TimeoutOptions): Promise<void>;
  /** v2: writes cgroup.kill (the kernel kills the whole subtree); v1 drivers refuse. */
  kill(path: string): Promise<void>;
}
