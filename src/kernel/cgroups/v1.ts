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
import { type CgroupHierarchy, hierarchyLabel } from './mounts.js';
import { keyOrNull, parseBlkioServiceBytes, parseFlatKeyed, parsePids } from './parse.js';
import { parentOf } from './paths.js';
import { movePidInto, removeWithRetry } from './shared.js';
import { cpuSharesToWeight, cpuWeightToShares, memswFromSwap, parseKernelNumber, swapFromMemsw } from './units.js';

/** USER_HZ: cpuacct.stat counts in these ticks (100 on every Linux architecture nsgate runs on). */
const USER_HZ = 100;

const FEATURE_CONTROLLER: Partial<Record<Feature, string>> = {
  memory: 'memory',
  cpu: 'cpu',
  cpuacct: 'cpuacct',
  pids: 'pids',
  cpuset: 'cpuset',
  io: 'blkio',
  freezer: 'freezer',
};

const num = (text: string | null): number | null => (text === null ? null : parseKernelNumber(text, { unlimitedAbove: true }));

/** How v1 takes "unlimited" back when a change is undone. */
const v1Raw = (n: number | null): string => (n === null ? '-1' : String(n));

/**
 * cgroup v1: a hierarchy per controller (or per group of co-mounted controllers), each with its
 * own directory for the same cgroup path. Named hierarchies (name=systemd) carry no controller
 * but are created, joined and removed like the others, as runc does.
 */
export class V1Driver implements CgroupDriver {
  readonly version = 1 as const;
  readonly features: ReadonlySet<Feature>;

  constructor(
    readonly hierarchies: readonly CgroupHierarchy[],
    private readonly files: CgroupFiles,
    options: DriverOptions = {},
  ) {
    const features = new Set<Feature>();
    for (const [feature, controller] of Object.entries(FEATURE_CONTROLLER) as [Feature, string][]) {
      if (hierarchies.some((h) => h.controllers.includes(controller))) features.add(feature);
    }
    this.features = featuresWithout(features, options);
  }

  private hierarchyOf(controller: string): CgroupHierarchy | undefined {
    return this.hierarchies.find((h) => h.controllers.includes(controller));
  }

  private dirOf(controller: string, path: string): CgroupDir | null {
    const h = this.hierarchyOf(controller);
    return h ? this.files.dir(h, path) : null;
  }

  private requireDir(controller: string, path: string): CgroupDir {
    const dir = this.dirOf(controller, path);
    if (!dir) {
      throw new NsgateError('CONTROLLER_UNAVAILABLE', `cgroup ${path} has no ${controller} controller here`, { path, controller });
    }
    return dir;
  }

  presentIn(path: string): CgroupHierarchy[] {
    return this.hierarchies.filter((h) => this.files.dir(h, path) !== null);
  }

  controllersOf(path: string): string[] {
    return this.presentIn(path)
      .flatMap((h) => h.controllers)
      .sort();
  }

  childrenOf(path: string): string[] {
    const names = new Set<string>();
    for (const h of this.hierarchies) for (const name of this.files.dir(h, path)?.children() ?? []) names.add(name);
    return [...names].sort();
  }

  processes(path: string): number[] {
    const pids = new Set<number>();
    for (const h of this.hierarchies) for (const pid of parsePids(this.files.dir(h, path)?.readOptional('cgroup.procs') ?? null)) pids.add(pid);
    return [...pids].sort((a, b) => a - b);
  }

  async create(path: string): Promise<CgroupHierarchy[]> {
    const made: CgroupHierarchy[] = [];
    try {
      for (const h of this.hierarchies) if (await this.files.mkdir(h, path)) made.push(h);
    } catch (err) {
      await this.remove(path, made).catch(() => undefined);
      throw err;
    }
    return made;
  }

  /** A new v1 cpuset has no CPUs and no memory nodes, and no process can join it: copy the parent's. */
  async prepare(path: string): Promise<void> {
    const dir = this.dirOf('cpuset', path);
    const parent = this.dirOf('cpuset', parentOf(path));
    if (!dir || !parent) return;
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const own = dir.readOptional(file);
      if (own === null || own.trim() !== '') continue;
      const inherited = (parent.readOptional(file) ?? '').trim();
      if (inherited !== '') await dir.write(file, inherited);
    }
  }

  async remove(path: string, hierarchies: readonly CgroupHierarchy[] = this.presentIn(path)): Promise<void> {
    for (const h of hierarchies) await removeWithRetry(this.files, h, path);
  }

  readLimits(path: string, groups: ReadonlySet<LimitGroup>): Limits {
    const limits: Limits = {};
    if (groups.has('memory')) {
      const dir = this.dirOf('memory', path);
      if (dir) {
        const max = num(dir.read('memory.limit_in_bytes'));
        limits.memory = { max, high: null, swapMax: swapFromMemsw(max, num(dir.readOptional('memory.memsw.limit_in_bytes'))) };
      }
    }
    if (groups.has('cpu')) {
      const dir = this.dirOf('cpu', path);
      if (dir) {
        const shares = Number(dir.read('cpu.shares').trim());
        limits.cpu = {
          quotaUs: num(dir.read('cpu.cfs_quota_us')),
          periodUs: Number(dir.read('cpu.cfs_period_us').trim()),
          weight: cpuSharesToWeight(shares),
          shares,
        };
      }
    }
    if (groups.has('pids')) {
      const dir = this.dirOf('pids', path);
      const text = dir?.readOptional('pids.max');
      if (text != null) limits.pids = { max: num(text) };
    }
    if (groups.has('cpuset')) {
      const dir = this.dirOf('cpuset', path);
      if (dir) {
        const effective = (file: string): string | null => dir.readOptional(file)?.trim() ?? null;
        limits.cpuset = {
          cpus: dir.read('cpuset.cpus').trim(),
          mems: dir.read('cpuset.mems').trim(),
          effectiveCpus: effective('cpuset.effective_cpus'),
          effectiveMems: effective('cpuset.effective_mems'),
        };
      }
    }
    return limits;
  }

  readStats(path: string, groups: ReadonlySet<StatGroup>): Stats {
    const stats: Stats = {};
    if (groups.has('memory')) {
      const dir = this.dirOf('memory', path);
      if (dir) stats.memory = this.memoryStats(dir);
    }
    if (groups.has('cpu')) {
      const acct = this.dirOf('cpuacct', path);
      const cpu = this.dirOf('cpu', path);
      if (acct || cpu) stats.cpu = this.cpuStats(acct, cpu);
    }
    if (groups.has('pids')) {
      const dir = this.dirOf('pids', path);
      if (dir) stats.pids = { current: num(dir.readOptional('pids.current')), max: num(dir.readOptional('pids.max')) };
    }
    if (groups.has('io')) {
      const dir = this.dirOf('blkio', path);
      if (dir) {
        // The throttle layer sees every bio whatever the I/O scheduler; the per-scheduler files only their own.
        const io =
          parseBlkioServiceBytes(dir.readOptional('blkio.throttle.io_service_bytes_recursive')) ??
          parseBlkioServiceBytes(dir.readOptional('blkio.io_service_bytes_recursive')) ??
          parseBlkioServiceBytes(dir.readOptional('blkio.throttle.io_service_bytes'));
        if (io) stats.io = io;
      }
    }
    return stats;
  }

  private memoryStats(dir: CgroupDir): MemoryStats {
    const stat = parseFlatKeyed(dir.readOptional('memory.stat'));
    // v2 counts are hierarchical; v1's total_* are the hierarchical ones.
    const pick = (key: string): number | null => stat.get(`total_${key}`) ?? stat.get(key) ?? null;
    const oom = parseFlatKeyed(dir.readOptional('memory.oom_control'));
    return {
      usage: num(dir.readOptional('memory.usage_in_bytes')),
      peak: num(dir.readOptional('memory.max_usage_in_bytes')),
      limit: num(dir.readOptional('memory.limit_in_bytes')),
      failcnt: num(dir.readOptional('memory.failcnt')),
      oomEvents: null,
      oomKills: keyOrNull(oom, 'oom_kill'),
      anon: pick('rss'),
      file: pick('cache'),
      kernel: num(dir.readOptional('memory.kmem.usage_in_bytes')),
      inactiveFile: pick('inactive_file'),
      swap: pick('swap'),
    };
  }

  private cpuStats(acct: CgroupDir | null, cpu: CgroupDir | null): CpuStats {
    let userNs: number | null = null;
    let systemNs: number | null = null;
    if (acct) {
      userNs = num(acct.readOptional('cpuacct.usage_user'));
      systemNs = num(acct.readOptional('cpuacct.usage_sys'));
      if (userNs === null || systemNs === null) {
        const ticks = parseFlatKeyed(acct.readOptional('cpuacct.stat'));
        const toNs = (t: number | undefined): number | null => (t === undefined ? null : (t * 1e9) / USER_HZ);
        userNs ??= toNs(ticks.get('user'));
        systemNs ??= toNs(ticks.get('system'));
      }
    }
    const stat = parseFlatKeyed(cpu?.readOptional('cpu.stat') ?? null);
    const throttledNs = stat.get('throttled_time');
    return {
      usageNs: acct ? num(acct.readOptional('cpuacct.usage')) : null,
      userNs,
      systemNs,
      nrPeriods: keyOrNull(stat, 'nr_periods'),
      nrThrottled: keyOrNull(stat, 'nr_throttled'),
      throttledUs: throttledNs === undefined ? null : Math.floor(throttledNs / 1000),
    };
  }

  async writeLimits(path: string, change: LimitsChange, options: SetLimitsOptions = {}): Promise<void> {
    const journal = new WriteJournal(options);
    try {
      if (change.memory) await this.writeMemory(path, change.memory, journal);
      if (change.cpu) await this.writeCpu(path, change.cpu, journal);
      if (change.pids?.max !== undefined) {
        const dir = this.requireDir('pids', path);
        await journal.write(dir, 'pids.max', change.pids.max === null ? 'max' : String(change.pids.max), dir.read('pids.max').trim());
      }
      if (change.cpuset) await this.writeCpuset(path, change.cpuset, journal);
    } catch (err) {
      const failed = await journal.rollback();
      if (failed.length && err instanceof NsgateError) throw withDetail(err, 'notRestored', failed);
      throw err;
    }
  }

  /**
   * v1 insists on memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every moment, so the
   * order matters: memsw first when it is not below the current memory limit (raising), memory
   * first otherwise (lowering). One of the two orders is always valid.
   */
  private async writeMemory(path: string, m: NonNullable<LimitsChange['memory']>, journal: WriteJournal): Promise<void> {
    if (m.high !== undefined && m.high !== null) {
      throw new NsgateError('CONTROLLER_UNAVAILABLE', 'memory.high has no cgroup v1 equivalent', { path, field: 'memory.high' });
    }
    if (m.max === undefined && m.swapMax === undefined) return;
    const dir = this.requireDir('memory', path);
    const curMax = num(dir.read('memory.limit_in_bytes'));
    const memswText = dir.readOptional('memory.memsw.limit_in_bytes');
    const curMemsw = num(memswText);
    const wantMax = m.max !== undefined ? m.max : curMax;

    let wantMemsw: number | null;
    if (m.swapMax !== undefined) {
      if (wantMax === null && m.swapMax !== null) {
        throw new NsgateError('LIMIT_INVALID', 'on cgroup v1 swap can only be limited together with memory (memory.memsw = memory + swap)', {
          path,
          field: 'memory.swapMax',
          value: m.swapMax,
          reason: 'memory.max is unlimited',
        });
      }
      wantMemsw = memswFromSwap(wantMax, m.swapMax);
    } else {
      // Keep the swap allowance as it was: memsw moves with memory.
      wantMemsw = curMemsw === null || wantMax === null ? null : wantMax + (swapFromMemsw(curMax, curMemsw) ?? 0);
    }
    if (memswText === null && wantMemsw !== null) {
      throw new NsgateError('CONTROLLER_UNAVAILABLE', 'this kernel does not account swap in cgroup v1 (no memory.memsw.limit_in_bytes)', {
        path,
        field: 'memory.swapMax',
      });
    }
    const writeMemsw = memswText !== null && (m.swapMax !== undefined || wantMemsw !== curMemsw);
    const memswFirst = wantMemsw === null || (curMax !== null && wantMemsw >= curMax);

    const setMemory = async (): Promise<void> => {
      if (m.max === undefined) return;
      try {
        await journal.write(dir, 'memory.limit_in_bytes', v1Raw(wantMax), v1Raw(curMax));
      } catch (err) {
        throw this.belowUsage(err, dir, 'memory', wantMax, curMax);
      }
    };
    const setMemsw = async (): Promise<void> => {
      if (!writeMemsw) return;
      try {
        await journal.write(dir, 'memory.memsw.limit_in_bytes', v1Raw(wantMemsw), v1Raw(curMemsw));
      } catch (err) {
        throw this.belowUsage(err, dir, 'memsw', wantMemsw, curMemsw);
      }
    };
    if (memswFirst) {
      await setMemsw();
      await setMemory();
    } else {
      await setMemory();
      await setMemsw();
    }
  }

  /** EBUSY on a v1 limit: the kernel could not reclaim down to it. Say what the usage is, as runc does. */
  private belowUsage(err: unknown, dir: CgroupDir, which: 'memory' | 'memsw', requested: number | null, old: number | null): unknown {
    const errno = kernelErrno(err);
    if (errno === 'EINVAL') {
      return new NsgateError('LIMIT_INVALID', `the kernel refused ${which === 'memory' ? 'memory.max' : 'memory+swap'} ${requested ?? 'max'} (EINVAL)`, {
        path: dir.path,
        field: which === 'memory' ? 'memory.max' : 'memory.swapMax',
        value: requested,
        errno,
      });
    }
    if (errno !== 'EBUSY') return err;
    const prefix = which === 'memory' ? 'memory' : 'memory.memsw';
    const usage = num(dir.readOptional(`${prefix}.usage_in_bytes`));
    const peak = num(dir.readOptional(`${prefix}.max_usage_in_bytes`));
    const what = which === 'memory' ? 'memory limit' : 'memory+swap limit';
    return new NsgateError('LIMIT_BELOW_USAGE', `unable to set ${what} to ${requested} (current usage: ${usage}, peak usage: ${peak}); the limit stays ${old ?? 'max'}`, {
      path: dir.path,
      field: which === 'memory' ? 'memory.max' : 'memory.swapMax',
      requested,
      usage,
      peak,
      limit: old,
    });
  }

  private async writeCpu(path: string, c: NonNullable<LimitsChange['cpu']>, journal: WriteJournal): Promise<void> {
    const dir = this.requireDir('cpu', path);
    const shares = c.shares ?? (c.weight !== undefined ? cpuWeightToShares(c.weight) : undefined);
    if (shares !== undefined) await this.writeCpuFile(journal, dir, 'cpu.shares', String(shares));
    const writes: [string, string][] = [];
    if (c.periodUs !== undefined) writes.push(['cpu.cfs_period_us', String(c.periodUs)]);
    if (c.quotaUs !== undefined) writes.push(['cpu.cfs_quota_us', v1Raw(c.quotaUs)]);
    const mark = journal.length;
    try {
      for (const [file, value] of writes) await this.writeCpuFile(journal, dir, file, value);
    } catch (err) {
      // A new period can clash with the old quota (or the reverse) against the parent's bandwidth: try the other order.
      if (writes.length < 2 || kernelErrno(err) !== 'EINVAL' || journal.length !== mark) throw err;
      for (const [file, value] of writes.reverse()) await this.writeCpuFile(journal, dir, file, value);
    }
  }

  private async writeCpuFile(journal: WriteJournal, dir: CgroupDir, file: string, value: string): Promise<void> {
    const previous = dir.read(file).trim();
    try {
      await journal.write(dir, file, value, previous);
    } catch (err) {
      if (kernelErrno(err) === 'EINVAL' && err instanceof NsgateError) {
        throw new NsgateError('LIMIT_INVALID', `the kernel refused ${value} for ${file} (EINVAL): it may exceed the parent's CPU bandwidth`, {
          path: dir.path,
          file,
          value,
          errno: 'EINVAL',
        });
      }
      throw err;
    }
  }

  private async writeCpuset(path: string, s: NonNullable<LimitsChange['cpuset']>, journal: WriteJournal): Promise<void> {
    const dir = this.requireDir('cpuset', path);
    const parent = this.dirOf('cpuset', parentOf(path));
    for (const [file, value] of [
      ['cpuset.cpus', s.cpus],
      ['cpuset.mems', s.mems],
    ] as const) {
      if (value === undefined) continue;
      if (value === '') {
        throw new NsgateError('LIMIT_INVALID', `${file} cannot be empty on cgroup v1: processes in an empty cpuset cannot run`, { path, field: file, value });
      }
      try {
        await journal.write(dir, file, value, dir.read(file).trim());
      } catch (err) {
        // v1 cpuset answers EACCES (not EINVAL) for a list that is not within the parent's
        if (kernelErrno(err) === 'EINVAL' || kernelErrno(err) === 'ENOSPC' || kernelErrno(err) === 'EACCES') {
          throw new NsgateError('LIMIT_INVALID', `the kernel refused ${file} ${value}: it must be within the parent's`, {
            path,
            field: file,
            value,
            parent: parent?.readOptional(file)?.trim() ?? null,
            errno: kernelErrno(err),
          });
        }
        throw err;
      }
    }
  }

  async movePid(path: string, pid: number): Promise<void> {
    for (const h of this.hierarchies) {
      const dir = this.files.dir(h, path);
      if (dir) await movePidInto(dir, pid);
    }
  }

  freezeState(path: string): FreezeState | null {
    const text = this.dirOf('freezer', path)?.readOptional('freezer.state');
    if (text == null) return null;
    switch (text.trim()) {
      case 'FROZEN':
        return 'frozen';
      case 'FREEZING':
        return 'freezing';
      default:
        return 'thawed';
    }
  }

  async freeze(path: string, options: TimeoutOptions = {}): Promise<void> {
    const dir = this.requireDir('freezer', path);
    const was = dir.read('freezer.state').trim();
    await dir.write('freezer.state', 'FROZEN');
    // A task in an uninterruptible sleep or vfork can keep the cgroup FREEZING; writing FROZEN again
    // retries it. Only while FREEZING: a THAWED read means someone else thawed it, and that wins.
    let state = '';
    const settled = await pollUntil(
      () => {
        state = dir.read('freezer.state').trim();
        return state !== 'FREEZING';
      },
      {
        timeoutMs: options.timeoutMs ?? 5000,
        onTick: async () => {
          if (state === 'FREEZING') await dir.write('freezer.state', 'FROZEN');
        },
      },
    );
    if (settled && state === 'THAWED') {
      throw new NsgateError('CONFLICT', `cgroup ${path} was thawed by another writer while nsgate was freezing it; nsgate did not freeze it again`, {
        path,
        state,
        hierarchy: hierarchyLabel(dir.hierarchy),
      });
    }
    if (!settled) {
      if (was !== 'FROZEN') await dir.write('freezer.state', 'THAWED').catch(() => undefined);
      throw new NsgateError('CGROUP_BUSY', `cgroup ${path} did not freeze in time (freezer.state ${state}); it was thawed again`, {
        path,
        state,
        hierarchy: hierarchyLabel(dir.hierarchy),
      });
    }
  }

  async thaw(path: string, options: TimeoutOptions = {}): Promise<void> {
    const dir = this.requireDir('freezer', path);
    await dir.write('freezer.state', 'THAWED');
    const thawed = await pollUntil(() => dir.read('freezer.state').trim() === 'THAWED', { timeoutMs: options.timeoutMs ?? 5000 });
    if (!thawed) {
      // A frozen parent keeps its children frozen whatever they are told.
      const state = dir.read('freezer.state').trim();
      throw new NsgateError('CGROUP_BUSY', `cgroup ${path} is still ${state}: a parent cgroup may be frozen`, { path, state });
    }
  }

  async kill(path: string): Promise<void> {
    throw new NsgateError('CONTROLLER_UNAVAILABLE', 'cgroup v1 has no cgroup.kill', { path });
  }
}

function withDetail(err: NsgateError, key: string, value: unknown): NsgateError {
  return new NsgateError(err.code, err.message, { ...(err.details ?? {}), [key]: value });
}
