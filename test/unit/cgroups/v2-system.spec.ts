// CgroupSystem over the cgroup v2 fixture (one unified tree with every controller).
import { ProtectedProcesses } from '../../../src/kernel/protected-processes.js';
import { existsSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CgroupFiles, cpuSharesToWeight } from '../../../src/kernel/cgroups/index.js';
import { type CgroupFixture, codeOf, loadFixture, populateOnMkdir } from './fixture.js';

describe('CgroupSystem on a cgroup v2 host (fixture)', () => {
  let fx: CgroupFixture;
  const read = (path: string, file: string) => fx.read('', path, file);
  beforeEach(() => (fx = loadFixture('cgroup-v2')));
  afterEach(() => {
    vi.restoreAllMocks();
    fx.cleanup();
  });

  it('routes everything to the v2 driver and reads its limits', () => {
    const system = fx.system();
    expect(system.mode).toBe('v2');
    expect([...system.drivers[0].features].sort()).toEqual(['cpu', 'cpuacct', 'cpuset', 'freezer', 'io', 'kill', 'memory', 'pids', 'pressure']);
    expect(system.readLimits('/nsgate/app')).toEqual({
      memory: { max: 7999488, high: null, swapMax: 0 },
      cpu: { quotaUs: 50000, periodUs: 100000, weight: 100, shares: 1024 },
      pids: { max: 64 },
      cpuset: { cpus: '', mems: '', effectiveCpus: '0-3', effectiveMems: '0' },
    });
    // A cgroup without controllers has only core files: no limit groups at all.
    expect(system.readLimits('/nsgate/bare')).toEqual({});
    // The root has no limit files.
    expect(system.readLimits('/')).toEqual({});
  });

  it('reads v2 stats: memory.events, memory.stat, cpu.stat in µs as ns, io.stat, PSI', () => {
    const stats = fx.system().readStats('/nsgate/app');
    expect(stats.memory).toEqual({
      usage: 50331648,
      peak: 52428800,
      limit: 7999488,
      failcnt: 9,
      oomEvents: 2,
      oomKills: 1,
      anon: 2097152,
      file: 1048576,
      kernel: 262144,
      inactiveFile: 524288,
      swap: 4096,
    });
    expect(stats.cpu).toEqual({ usageNs: 2_500_000, userNs: 1_500_000, systemNs: 1_000_000, nrPeriods: 10, nrThrottled: 4, throttledUs: 900 });
    expect(stats.pids).toEqual({ current: 2, max: 64 });
    expect(stats.io).toEqual({ readBytes: 4196, writeBytes: 8193 });
    expect(stats.pressure?.cpu?.full).toEqual({ avg10: 0.1, avg60: 0.2, avg300: 0.3, total: 500 });
    expect(stats.pressure?.memory?.some?.total).toBe(11);
  });

  it('memory.stat without "kernel" (before 5.18) sums its parts', () => {
    writeFileSync(fx.file('', '/nsgate/app', 'memory.stat'), 'anon 1\nkernel_stack 10\nslab 20\npercpu 5\n');
    expect(fx.system().readStats('/nsgate/app').memory?.kernel).toBe(35);
  });

  it('a limit below memory.current is refused (409) unless force, the file untouched', async () => {
    const system = fx.system();
    const err = await system.setLimits('/nsgate/app', { memory: { max: '16M' } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'LIMIT_BELOW_USAGE', details: { requested: 16 << 20, usage: 50331648, peak: 52428800, limit: 7999488 } });
    expect((err as Error).message).toContain('unable to set memory limit to 16777216 (current usage: 50331648, peak usage: 52428800)');
    expect(read('/nsgate/app', 'memory.max')).toBe('7999488\n');
    const forced = await system.setLimits('/nsgate/app', { memory: { max: '16M' } }, { force: true });
    expect(read('/nsgate/app', 'memory.max')).toBe(String(16 << 20));
    expect(forced.after.memory?.max).toBe(16 << 20);
  });

  // On a real v2 kernel the VM runs both sides (test/vm/guest/v2-host-cases.mjs: a file read
  // from ext2 on a loop device, and anonymous memory); this pins the arithmetic and the details.
  it('page cache counts as reclaimable: a limit below memory.current but above usage minus inactive_file is set', async () => {
    const system = fx.system();
    // 48 MiB used, 40 MiB of it inactive page cache: 8 MiB cannot be reclaimed.
    writeFileSync(fx.file('', '/nsgate/app', 'memory.stat'), `anon 8388608\nfile 41943040\ninactive_file ${40 << 20}\n`);
    const { after } = await system.setLimits('/nsgate/app', { memory: { max: '16M' } });
    expect(after.memory?.max).toBe(16 << 20);
    expect(read('/nsgate/app', 'memory.max')).toBe(String(16 << 20));
    // Below what cannot be reclaimed: refused, and the details say what was compared.
    const err = await system.setLimits('/nsgate/app', { memory: { max: '6M' } }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'LIMIT_BELOW_USAGE',
      details: { requested: 6 << 20, usage: 50331648, inactiveFile: 40 << 20, unreclaimable: 50331648 - (40 << 20), basis: 'memory.current - inactive_file' },
    });
    expect(read('/nsgate/app', 'memory.max')).toBe(String(16 << 20));
  });

  it('swap is swap alone on v2; high and max are separate files', async () => {
    const system = fx.system();
    const { after } = await system.setLimits('/nsgate/app', { memory: { max: '64M', swapMax: '32M', high: '48M' } });
    expect(read('/nsgate/app', 'memory.max')).toBe(String(64 << 20));
    expect(read('/nsgate/app', 'memory.swap.max')).toBe(String(32 << 20));
    expect(read('/nsgate/app', 'memory.high')).toBe(String(48 << 20));
    expect(after.memory).toEqual({ max: 64 << 20, high: 48 << 20, swapMax: 32 << 20 });
    await system.setLimits('/nsgate/app', { memory: { max: 'max', swapMax: 'max', high: null } });
    expect([read('/nsgate/app', 'memory.max'), read('/nsgate/app', 'memory.swap.max'), read('/nsgate/app', 'memory.high')]).toEqual(['max', 'max', 'max']);
  });

  it('cpu.max is one write (quota and period together; one of them keeps the other); shares become weight', async () => {
    const system = fx.system();
    const writes: string[] = [];
    const real = CgroupFiles.prototype.write;
    vi.spyOn(CgroupFiles.prototype, 'write').mockImplementation(async function (this: CgroupFiles, dir, file, value) {
      writes.push(`${file}=${value}`);
      return real.call(this, dir, file, value);
    });
    await system.setLimits('/nsgate/app', { cpu: { quotaUs: 20000, periodUs: 50000, shares: 2048 } });
    expect(writes).toEqual(['cpu.max=20000 50000', 'cpu.weight=174']);
    await system.setLimits('/nsgate/app', { cpu: { periodUs: 200000 } });
    expect(read('/nsgate/app', 'cpu.max')).toBe('20000 200000');
    await system.setLimits('/nsgate/app', { cpu: { max: 'max' } });
    expect(read('/nsgate/app', 'cpu.max')).toBe('max 200000');
    // v2 keeps the weight; shares are shown as the largest value with that weight (2048 is in its step).
    const cpu = system.readLimits('/nsgate/app').cpu!;
    expect(cpu).toMatchObject({ quotaUs: null, periodUs: 200000, weight: 174 });
    expect(cpu.shares).toBeGreaterThanOrEqual(2048);
    expect(cpuSharesToWeight(cpu.shares)).toBe(174);
  });

  it('pids and cpuset; an empty v2 cpuset means "the parent\'s"', async () => {
    const system = fx.system();
    await system.setLimits('/nsgate/app', { pids: { max: 1 }, cpuset: { cpus: '0-3', mems: '0' } });
    expect([read('/nsgate/app', 'pids.max'), read('/nsgate/app', 'cpuset.cpus'), read('/nsgate/app', 'cpuset.mems')]).toEqual(['1', '0-3', '0']);
    await system.setLimits('/nsgate/app', { cpuset: { cpus: '' } });
    expect(read('/nsgate/app', 'cpuset.cpus')).toBe('\n');
    expect(await codeOf(() => system.setLimits('/nsgate/app', { cpuset: { cpus: '4' } }))).toBe('LIMIT_INVALID');
  });

  it('a controller the cgroup does not have is CONTROLLER_UNAVAILABLE, nothing written', async () => {
    const system = fx.system();
    expect(await codeOf(() => system.setLimits('/nsgate/bare', { memory: { max: '64M' } }))).toBe('CONTROLLER_UNAVAILABLE');
    expect(existsSync(fx.file('', '/nsgate/bare', 'memory.max'))).toBe(false);
  });

  it('a symlinked control file is never written through', async () => {
    expect(await codeOf(() => fx.system().setLimits('/nsgate/trap', { memory: { high: '64M' } }))).toBe('CGROUP_PATH_INVALID');
    expect(await codeOf(() => fx.system().setLimits('/nsgate/trap', { memory: { max: '64M' } }))).toBe('CGROUP_PATH_INVALID');
    expect(read('/system.slice', 'memory.max')).toBe('1073741824\n');
    expect(await codeOf(() => fx.system().get('/nsgate/escape'))).toBe('CGROUP_PATH_INVALID');
  });

  it('create enables the controllers in a managed parent only', async () => {
    populateOnMkdir('/nsgate/app');
    const system = fx.system();
    writeFileSync(fx.file('', '/nsgate', 'cgroup.subtree_control'), 'memory\n');
    await system.create('/nsgate/new');
    // The write is "+cpu +io +pids" (the kernel adds them to what is there; the plain file shows the write).
    expect(read('/nsgate', 'cgroup.subtree_control')).toBe('+cpu +io +pids');
    // /nsgate itself sits under the root, which is not nsgate's: the root is never written.
    const other = fx.system({ managed: ['/fresh'] });
    await other.create('/fresh');
    expect(read('/', 'cgroup.subtree_control')).toBe('');
  });

  it('freeze waits for cgroup.events frozen 1 and, when it never comes, thaws back', async () => {
    const system = fx.system();
    // A plain file cannot flip cgroup.events: the freeze times out and is undone.
    const err = await system.freeze('/nsgate/app', { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CGROUP_BUSY' });
    expect(read('/nsgate/app', 'cgroup.freeze')).toBe('0');
    // With the kernel's answer in place, freeze returns frozen.
    writeFileSync(fx.file('', '/nsgate/app', 'cgroup.events'), 'populated 1\nfrozen 1\n');
    expect(await system.freeze('/nsgate/app')).toBe('frozen');
    expect(read('/nsgate/app', 'cgroup.freeze')).toBe('1');
  });

  it('kill writes cgroup.kill and waits until no live process is left', async () => {
    const system = fx.system();
    // 4242 and 4243 are not live processes on the test host, so the cgroup counts as empty at once.
    const result = await system.kill('/nsgate/app');
    expect(result).toEqual({ path: '/nsgate/app', viaCgroupKill: true, signalled: [] });
    expect(read('/nsgate/app', 'cgroup.kill')).toBe('1');
  });

  it('a cgroup with controllers delegated cannot take a process (EBUSY is CGROUP_BUSY)', async () => {
    const system = fx.system({ protectedProcesses: new ProtectedProcesses(-1) });
    const real = CgroupFiles.prototype.write;
    vi.spyOn(CgroupFiles.prototype, 'write').mockImplementation(async function (this: CgroupFiles, dir, file, value) {
      if (file === 'cgroup.procs') throw Object.assign(new Error('busy'), { code: 'EBUSY' });
      return real.call(this, dir, file, value);
    });
    expect(await codeOf(() => system.moveProcess('/nsgate', process.pid, { fromUnmanaged: true }))).toBe('CGROUP_BUSY');
  });
});
