import { NsgateError } from '../errors.js';
import type {
  CgroupDriver,
  CpuStats,
  DriverOptions,
  Feature,
  FreezeState,
  LimitGroup,
  Limits,
  LimitsChange,
  MemoryStats,
  SetLimitsOptions,
  StatGroup,
  Stats,
  TimeoutOptions,
} from './driver.js';
import { featuresWithout } from './driver.js';
import { type CgroupDir, type CgroupFiles, kernelErrno } from './files.js';
import { pollUntil, WriteJournal } from './journal.js';
import type { CgroupHierarchy } from './mounts.js';
import { keyOrNull, parseFlatKeyed, parseIoStat, parsePids, parsePressure } from './parse.js';
import { isManaged, parentOf } from './paths.js';
import { movePidInto, removeWithRetry } from './shared.js';
import { readProcessStatus } from '../procfs/status.js';
import { CPU_PERIOD_DEFAULT_US, cpuSharesToWeight, cpuWeightToShares, formatCpuMax, parseCpuMax, parseKernelNumber } from './units.js';
import { unreclaimableMemory } from './preflight.js';

/** The controllers nsgate's vocabulary uses, enabled for the children of a managed cgroup. */
const DELEGATED = ['cpu', 'cpuset', 'io', 'memory', 'pids'];
/** Of those, the ones a threaded subtree can have (the kernel refuses the others there: EOPNOTSUPP). */
const THREADED_CONTROLLERS = ['cpu', 'cpuset', 'pids'];

const num = (text: string | null): number | null => (text === null ? null : parseKernelNumber(text));
const v2Raw = (n: number | null): string => (n === null ? 'max' : String(n));

/**
 * cgroup v2: one tree. Controllers reach a cgroup only when its parent lists them in
 * cgroup.subtree_control; the core files (cgroup.procs, cgroup.freeze, cgroup.kill,
 * cgroup.events, *.pressure, cpu.stat) are always there, which is all a hybrid host's
 * unified tree has.
 */
export class V2Driver implements CgroupDriver {
  readonly version = 2 as const;
  readonly hierarchies: readonly CgroupHierarchy[];
  readonly features: ReadonlySet<Feature>;

  constructor(
    private readonly hierarchy: CgroupHierarchy,
    private readonly files: CgroupFiles,
    options: DriverOptions = {},
  ) {
    this.hierarchies = [hierarchy];
    const root = files.dir(hierarchy, hierarchy.root);
    const available = (root?.readOptional('cgroup.controllers') ?? '').trim().split(/\s+/).filter(Boolean);
    const features = new Set<Feature>(['cpuacct', 'freezer', 'kill']);
    for (const c of ['memory', 'cpu', 'pids', 'cpuset', 'io'] as const) if (available.includes(c)) features.add(c);
    if (root?.has('cpu.pressure') || root?.has('memory.pressure')) features.add('pressure');
    this.features = featuresWithout(features, options);
  }

  private dir(path: string): CgroupDir | null {
    return this.files.dir(this.hierarchy, path);
  }

  private requireDir(path: string): CgroupDir {
    const dir = this.dir(path);
    if (!dir) throw new NsgateError('CGROUP_GONE', `cgroup ${path} disappeared`, { path });
    return dir;
  }

  presentIn(path: string): CgroupHierarchy[] {
    return this.dir(path) ? [this.hierarchy] : [];
  }

  controllersOf(path: string): string[] {
    return (this.dir(path)?.readOptional('cgroup.controllers') ?? '').trim().split(/\s+/).filter(Boolean).sort();
  }

  childrenOf(path: string): string[] {
    return (this.dir(path)?.children() ?? []).sort();
  }

  /**
   * cgroup.procs; a threaded cgroup refuses to list it (EOPNOTSUPP: its processes belong to the
   * thread root), so there the processes are the thread groups of the threads in cgroup.threads.
   */
  processes(path: string): number[] {
    const dir = this.dir(path);
    if (!dir) return [];
    if (this.typeOfDir(dir) === 'threaded') {
      const tgids = new Set<number>();
      for (const tid of parsePids(dir.readOptional('cgroup.threads'))) {
        try {
          tgids.add(readProcessStatus(tid, { procRoot: this.files.procRoot }).tgid);
        } catch {
          // the thread ended meanwhile
        }
      }
      return [...tgids].sort((a, b) => a - b);
    }
    return parsePids(dir.readOptional('cgroup.procs')).sort((a, b) => a - b);
  }

  /**
   * cgroup.type: "domain", "domain threaded" (a thread root), "domain invalid" (a domain below a
   * thread root: it can hold no process and enable no controller) or "threaded"; null for the
   * root (which has no such file) and where the cgroup does not exist.
   */
  typeOf(path: string): string | null {
    const dir = this.dir(path);
    return dir ? this.typeOfDir(dir) : null;
  }

  private typeOfDir(dir: CgroupDir): string | null {
    return dir.readOptional('cgroup.type')?.trim() ?? null;
  }

  async create(path: string): Promise<CgroupHierarchy[]> {
    return (await this.files.mkdir(this.hierarchy, path)) ? [this.hierarchy] : [];
  }

  /**
   * Enables the vocabulary's controllers for the new cgroup in its parent's subtree_control,
   * only when the parent is managed (never a parent nsgate does not own). A parent that holds
   * processes cannot delegate (EBUSY): the new cgroup then simply has fewer controllers.
   */
  async prepare(path: string): Promise<void> {
    const parentPath = parentOf(path);
    if (!isManaged(parentPath, this.files.managed)) return;
    const parent = this.dir(parentPath);
    if (!parent) return;
    // A thread root or a threaded parent delegates only threaded controllers; a "domain invalid" one nothing.
    const type = this.typeOfDir(parent);
    if (type === 'domain invalid') return;
    const wanted = type === 'threaded' || type === 'domain threaded' ? THREADED_CONTROLLERS : DELEGATED;
    const available = (parent.readOptional('cgroup.controllers') ?? '').trim().split(/\s+/);
    const enabled = (parent.readOptional('cgroup.subtree_control') ?? '').trim().split(/\s+/);
    const missing = wanted.filter((c) => available.includes(c) && !enabled.includes(c));
    if (missing.length === 0) return;
    try {
      await parent.write('cgroup.subtree_control', missing.map((c) => `+${c}`).join(' '));
    } catch (err) {
      // EOPNOTSUPP: the parent turned threaded meanwhile; the new cgroup has fewer controllers, as with EBUSY.
      if (!['EBUSY', 'ENOENT', 'EOPNOTSUPP', 'ENOTSUP'].includes(kernelErrno(err) ?? '')) throw err;
    }
  }

  async remove(path: string, hierarchies: readonly CgroupHierarchy[] = this.presentIn(path)): Promise<void> {
    if (hierarchies.includes(this.hierarchy)) await removeWithRetry(this.files, this.hierarchy, path);
  }

  readLimits(path: string, groups: ReadonlySet<LimitGroup>): Limits {
    const dir = this.dir(path);
    const limits: Limits = {};
    if (!dir) return limits;
    if (groups.has('memory')) {
      const max = dir.readOptional('memory.max');
      if (max !== null) {
        limits.memory = { max: num(max), high: num(dir.readOptional('memory.high')), swapMax: num(dir.readOptional('memory.swap.max')) };
      }
    }
    if (groups.has('cpu')) {
      const max = dir.readOptional('cpu.max');
      const weight = dir.readOptional('cpu.weight');
      if (max !== null && weight !== null) {
        const parsed = parseCpuMax(max);
        const w = Number(weight.trim());
        limits.cpu = { quotaUs: parsed.quotaUs, periodUs: parsed.periodUs ?? CPU_PERIOD_DEFAULT_US, weight: w, shares: cpuWeightToShares(w) };
      }
    }
    if (groups.has('pids')) {
      const max = dir.readOptional('pids.max');
      if (max !== null) limits.pids = { max: num(max) };
    }
    if (groups.has('cpuset')) {
      const cpus = dir.readOptional('cpuset.cpus');
      const mems = dir.readOptional('cpuset.mems');
      if (cpus !== null && mems !== null) {
        const effective = (file: string): string | null => dir.readOptional(file)?.trim() ?? null;
        limits.cpuset = { cpus: cpus.trim(), mems: mems.trim(), effectiveCpus: effective('cpuset.cpus.effective'), effectiveMems: effective('cpuset.mems.effective') };
      }
    }
    return limits;
  }

  readStats(path: string, groups: ReadonlySet<StatGroup>): Stats {
    const dir = this.dir(path);
    const stats: Stats = {};
    if (!dir) return stats;
    if (groups.has('memory') && dir.has('memory.current')) stats.memory = this.memoryStats(dir);
    if (groups.has('cpu')) {
      const cpu = dir.readOptional('cpu.stat');
      if (cpu !== null) stats.cpu = cpuStats(parseFlatKeyed(cpu));
    }
    if (groups.has('pids')) {
      const current = dir.readOptional('pids.current');
      if (current !== null) stats.pids = { current: num(current), max: num(dir.readOptional('pids.max')) };
    }
    if (groups.has('io')) {
      const io = parseIoStat(dir.readOptional('io.stat'));
      if (io) stats.io = io;
    }
    if (groups.has('pressure')) {
      const pressure = {
        cpu: parsePressure(dir.readOptional('cpu.pressure')),
        memory: parsePressure(dir.readOptional('memory.pressure')),
        io: parsePressure(dir.readOptional('io.pressure')),
      };
      if (pressure.cpu || pressure.memory || pressure.io) stats.pressure = pressure;
    }
    return stats;
  }

  private memoryStats(dir: CgroupDir): MemoryStats {
    const stat = parseFlatKeyed(dir.readOptional('memory.stat'));
    const events = parseFlatKeyed(dir.readOptional('memory.events'));
    // memory.stat has "kernel" since 5.18; before, the kernel's share is the sum of its parts.
    const kernelParts = ['kernel_stack', 'pagetables', 'percpu', 'sock', 'slab'];
    const kernel = stat.get('kernel') ?? (kernelParts.some((k) => stat.has(k)) ? kernelParts.reduce((sum, k) => sum + (stat.get(k) ?? 0), 0) : null);
    return {
      usage: num(dir.readOptional('memory.current')),
      peak: num(dir.readOptional('memory.peak')),
      limit: num(dir.readOptional('memory.max')),
      failcnt: keyOrNull(events, 'max'),
      oomEvents: keyOrNull(events, 'oom'),
      oomKills: keyOrNull(events, 'oom_kill'),
      anon: keyOrNull(stat, 'anon'),
      file: keyOrNull(stat, 'file'),
      kernel,
      inactiveFile: keyOrNull(stat, 'inactive_file'),
      swap: num(dir.readOptional('memory.swap.current')),
    };
  }

  async writeLimits(path: string, change: LimitsChange, options: SetLimitsOptions = {}): Promise<void> {
    const dir = this.requireDir(path);
    const journal = new WriteJournal(options);
    const write = async (file: string, value: string): Promise<void> => {
      const previous = dir.read(file).trim();
      try {
        await journal.write(dir, file, value, previous);
      } catch (err) {
        const errno = kernelErrno(err);
        if ((errno === 'EINVAL' || errno === 'ERANGE') && err instanceof NsgateError) {
          throw new NsgateError('LIMIT_INVALID', `the kernel refused ${JSON.stringify(value)} for ${file} (${errno})`, { path, file, value, errno });
        }
        throw err;
      }
    };
    try {
      const m = change.memory;
      if (m) {
        if (m.max !== undefined && m.max !== null && !options.force) refuseBelowUnreclaimable(dir, m.max);
        if (m.swapMax !== undefined) {
          if (dir.has('memory.swap.max')) await write('memory.swap.max', v2Raw(m.swapMax));
          else if (m.swapMax !== null) {
            throw new NsgateError('CONTROLLER_UNAVAILABLE', 'this kernel does not account swap (no memory.swap.max)', { path, field: 'memory.swapMax' });
          }
        }
        if (m.max !== undefined) await write('memory.max', v2Raw(m.max));
        if (m.high !== undefined) await write('memory.high', v2Raw(m.high));
      }
      const c = change.cpu;
      if (c) {
        if (c.quotaUs !== undefined || c.periodUs !== undefined) {
          // quota and period go in one write, so there is no in-between state to get refused.
          const current = parseCpuMax(dir.read('cpu.max'));
          const quota = c.quotaUs !== undefined ? c.quotaUs : current.quotaUs;
          await write('cpu.max', formatCpuMax(quota, c.periodUs ?? current.periodUs ?? CPU_PERIOD_DEFAULT_US));
        }
        const weight = c.weight ?? (c.shares !== undefined ? cpuSharesToWeight(c.shares) : undefined);
        if (weight !== undefined) await write('cpu.weight', String(weight));
      }
      if (change.pids?.max !== undefined) await write('pids.max', v2Raw(change.pids.max));
      if (change.cpuset?.cpus !== undefined) await write('cpuset.cpus', change.cpuset.cpus);
      if (change.cpuset?.mems !== undefined) await write('cpuset.mems', change.cpuset.mems);
    } catch (err) {
      const failed = await journal.rollback();
      if (failed.length && err instanceof NsgateError) throw new NsgateError(err.code, err.message, { ...(err.details ?? {}), notRestored: failed });
      throw err;
    }
  }


  async movePid(path: string, pid: number): Promise<void> {
    await movePidInto(this.requireDir(path), pid);
  }

  freezeState(path: string): FreezeState | null {
    const dir = this.dir(path);
    const freeze = dir?.readOptional('cgroup.freeze');
    if (!dir || freeze == null) return null;
    const frozen = parseFlatKeyed(dir.readOptional('cgroup.events')).get('frozen') === 1;
    if (frozen) return 'frozen';
    return freeze.trim() === '1' ? 'freezing' : 'thawed';
  }

  async freeze(path: string, options: TimeoutOptions = {}): Promise<void> {
    const dir = this.requireFreezer(path);
    const was = dir.read('cgroup.freeze').trim();
    await dir.write('cgroup.freeze', '1');
    const frozen = await pollUntil(() => this.eventsFrozen(dir) === 1, { timeoutMs: options.timeoutMs ?? 5000 });
    if (!frozen) {
      if (was !== '1') await dir.write('cgroup.freeze', '0').catch(() => undefined);
      throw new NsgateError('CGROUP_BUSY', `cgroup ${path} did not report frozen in time; it was thawed again`, { path });
    }
  }

  async thaw(path: string, options: TimeoutOptions = {}): Promise<void> {
    const dir = this.requireFreezer(path);
    await dir.write('cgroup.freeze', '0');
    const thawed = await pollUntil(() => this.eventsFrozen(dir) === 0, { timeoutMs: options.timeoutMs ?? 5000 });
    if (!thawed) throw new NsgateError('CGROUP_BUSY', `cgroup ${path} is still frozen: a parent cgroup may be frozen`, { path });
  }

  private eventsFrozen(dir: CgroupDir): number | undefined {
    return parseFlatKeyed(dir.read('cgroup.events')).get('frozen');
  }

  private requireFreezer(path: string): CgroupDir {
    const dir = this.requireDir(path);
    if (!dir.has('cgroup.freeze')) throw new NsgateError('CONTROLLER_UNAVAILABLE', `cgroup ${path} has no cgroup.freeze (kernel before 5.2, or the root)`, { path });
    return dir;
  }

  async kill(path: string): Promise<void> {
    const dir = this.requireDir(path);
    if (!this.features.has('kill') || !dir.has('cgroup.kill')) throw new NsgateError('CONTROLLER_UNAVAILABLE', `cgroup ${path} has no cgroup.kill (kernel before 5.14)`, { path });
    await dir.write('cgroup.kill', '1');
  }
}

function cpuStats(stat: Map<string, number>): CpuStats {
  const us = (key: string): number | null => {
    const v = stat.get(key);
    return v === undefined ? null : v * 1000;
  };
  return {
    usageNs: us('usage_usec'),
    userNs: us('user_usec'),
    systemNs: us('system_usec'),
    nrPeriods: keyOrNull(stat, 'nr_periods'),
    nrThrottled: keyOrNull(stat, 'nr_throttled'),
    throttledUs: keyOrNull(stat, 'throttled_usec'),
  };
}

/**
 * v2 does not refuse a memory.max below usage: it reclaims, then OOM-kills what it could not
 * reclaim. memory.current counts page cache the kernel drops on its own, so the limit is
 * compared with what cannot be reclaimed: usage minus inactive_file (memory.stat), the
 * "working set" cAdvisor and the kubelet use; active file pages, slab and swappable anon count
 * as unreclaimable, so it errs towards refusing. Below that, nsgate refuses (409) unless the
 * caller says force: the same request v1 takes (its kernel reclaims and answers EBUSY only when
 * it cannot) is then taken here too. `details.basis` says what was compared.
 */
export function refuseBelowUnreclaimable(dir: CgroupDir, requested: number): void {
  const usage = num(dir.readOptional('memory.current'));
  if (usage === null || requested >= usage) return;
  const inactiveFile = parseFlatKeyed(dir.readOptional('memory.stat')).get('inactive_file') ?? null;
  const unreclaimable = unreclaimableMemory(usage, inactiveFile);
  if (requested >= unreclaimable) return;
  const peak = num(dir.readOptional('memory.peak'));
  const limit = num(dir.readOptional('memory.max'));
  const basis = inactiveFile === null ? 'memory.current' : 'memory.current - inactive_file';
  throw new NsgateError(
    'LIMIT_BELOW_USAGE',
    `unable to set memory limit to ${requested} (current usage: ${usage}, peak usage: ${peak}); ${unreclaimable} bytes of it cannot be reclaimed (${basis}), so on cgroup v2 the kernel would OOM-kill. Send force: true to do it anyway`,
    { path: dir.path, field: 'memory.max', requested, usage, peak, limit, inactiveFile, unreclaimable, basis },
  );
}
