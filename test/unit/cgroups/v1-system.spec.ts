// CgroupSystem over the hybrid fixture (v1 controllers + a core-only unified tree).
import { ProtectedProcesses } from '../../../src/kernel/protected-processes.js';
import { existsSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CgroupFiles } from '../../../src/kernel/cgroups/index.js';
import { type CgroupFixture, codeOf, loadFixture, populateOnMkdir } from './fixture.js';

const UNLIMITED = '9223372036854771712\n';

describe('CgroupSystem on a hybrid host (fixture)', () => {
  let fx: CgroupFixture;
  beforeEach(() => (fx = loadFixture('cgroup-v1')));
  afterEach(() => {
    vi.restoreAllMocks();
    fx.cleanup();
  });

  it('reads limits from the v1 controllers, in the vocabulary', () => {
    const system = fx.system();
    expect(system.mode).toBe('hybrid');
    expect(system.readLimits('/nsgate/app')).toEqual({
      memory: { max: 7999488, high: null, swapMax: null },
      cpu: { quotaUs: 50000, periodUs: 100000, weight: 59, shares: 512 },
      pids: { max: 64 },
      cpuset: { cpus: '1', mems: '0', effectiveCpus: null, effectiveMems: null },
    });
    expect(system.readLimits('/').memory).toEqual({ max: null, high: null, swapMax: null });
  });

  it('reads stats from v1 (memory, cpuacct + cpu, pids, blkio) and pressure from the unified tree', () => {
    const stats = fx.system().readStats('/nsgate/app');
    expect(stats.memory).toEqual({
      usage: 25165824,
      peak: 26214400,
      limit: 7999488,
      failcnt: 3,
      oomEvents: null,
      oomKills: 2,
      anon: 20971520,
      file: 4096000,
      kernel: 524288,
      inactiveFile: 1024000,
      swap: 8192,
    });
    expect(stats.cpu).toEqual({ usageNs: 987654321, userNs: 600000000, systemNs: 300000000, nrPeriods: 40, nrThrottled: 7, throttledUs: 123456 });
    expect(stats.pids).toEqual({ current: 2, max: 64 });
    expect(stats.io).toEqual({ readBytes: 4196, writeBytes: 8192 });
    expect(stats.pressure?.cpu).toEqual({
      some: { avg10: 1.5, avg60: 0.25, avg300: 0.05, total: 123456 },
      full: { avg10: 0, avg60: 0, avg300: 0, total: 789 },
    });
  });

  it('cpuacct.stat ticks stand in when usage_user/usage_sys are missing', () => {
    const system = fx.system();
    for (const f of ['cpuacct.usage_user', 'cpuacct.usage_sys']) writeFileSync(fx.file('cpuacct', '/nsgate/app', f), 'garbage');
    // Unparsable values are refused loudly rather than guessed.
    expect(() => system.readStats('/nsgate/app')).toThrow();
  });

  it('get: hierarchies, controllers, processes across hierarchies, freezer state', () => {
    const info = fx.system().get('/nsgate/app');
    expect(info.hierarchies).toEqual(['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'name=systemd', 'unified']);
    expect(info.controllers).toEqual(['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'pids']);
    expect(info.processes).toEqual([4242, 4243]);
    expect(info.freezer).toBe('thawed');
  });

  it('lists the tree with depth and process counts', () => {
    const system = fx.system();
    expect(system.list({ under: '/nsgate', depth: 2 }).items).toEqual([
      { path: '/nsgate', depth: 0, controllers: expect.arrayContaining(['memory']), processCount: 0 },
      { path: '/nsgate/app', depth: 1, controllers: expect.arrayContaining(['memory']), processCount: 2 },
      { path: '/nsgate/app/worker', depth: 2, controllers: expect.arrayContaining(['memory']), processCount: 0 },
    ]);
    expect(system.list({ under: '/', depth: 1 }).items.map((n) => n.path)).toEqual(['/', '/nsgate', '/system.slice']);
    expect(system.list({ under: '/', depth: 5, maxNodes: 2 })).toMatchObject({ truncated: true });
  });

  it('a missing cgroup is CGROUP_NOT_FOUND; a traversal is CGROUP_PATH_INVALID', async () => {
    const system = fx.system();
    expect(await codeOf(() => system.get('/nsgate/nope'))).toBe('CGROUP_NOT_FOUND');
    expect(await codeOf(() => system.get('/nsgate/../system.slice'))).toBe('CGROUP_PATH_INVALID');
    expect(await codeOf(() => system.list({ under: '/nsgate', depth: 99 }))).toBe('VALIDATION_FAILED');
  });

  it('raising memory writes memsw first, lowering writes memory first (v1 keeps memory <= memsw)', async () => {
    const system = fx.system();
    writeFileSync(fx.file('memory', '/nsgate/app', 'memory.memsw.limit_in_bytes'), '7999488\n');
    const order: string[] = [];
    const write = vi.spyOn(CgroupFiles.prototype, 'write');
    write.mockImplementation(async function (this: CgroupFiles, dir, file, value) {
      order.push(`${file}=${value}`);
      writeFileSync(`${dir.fsPath}/${file}`, value);
    });
    const up = await system.setLimits('/nsgate/app', { memory: { max: '64M' } });
    expect(order).toEqual([`memory.memsw.limit_in_bytes=${64 << 20}`, `memory.limit_in_bytes=${64 << 20}`]);
    expect(up.before.memory).toEqual({ max: 7999488, high: null, swapMax: 0 });
    expect(up.after.memory).toEqual({ max: 64 << 20, high: null, swapMax: 0 });
    order.length = 0;
    await system.setLimits('/nsgate/app', { memory: { max: '16M', swapMax: '8M' } });
    expect(order).toEqual([`memory.limit_in_bytes=${16 << 20}`, `memory.memsw.limit_in_bytes=${24 << 20}`]);
    order.length = 0;
    // swapMax alone moves memsw; memory stays.
    await system.setLimits('/nsgate/app', { memory: { swapMax: 0 } });
    expect(order).toEqual([`memory.memsw.limit_in_bytes=${16 << 20}`]);
    order.length = 0;
    await system.setLimits('/nsgate/app', { memory: { max: 'max' } });
    expect(order).toEqual(['memory.memsw.limit_in_bytes=-1', 'memory.limit_in_bytes=-1']);
  });

  it('memory.high and a swap limit without a memory limit have no v1 form', async () => {
    const system = fx.system();
    writeFileSync(fx.file('memory', '/nsgate/app', 'memory.limit_in_bytes'), UNLIMITED);
    expect(await codeOf(() => system.setLimits('/nsgate/app', { memory: { high: '64M' } }))).toBe('CONTROLLER_UNAVAILABLE');
    expect(await codeOf(() => system.setLimits('/nsgate/app', { memory: { swapMax: '64M' } }))).toBe('LIMIT_INVALID');
    expect(fx.read('memory', '/nsgate/app', 'memory.memsw.limit_in_bytes')).toBe(UNLIMITED);
  });

  it('cpu: quota, period, weight (written as shares), pids, cpuset; the answer is what the files say', async () => {
    const system = fx.system();
    const { after } = await system.setLimits('/nsgate/app', { cpu: { max: '20000 50000', weight: 100 }, pids: { max: 'max' }, cpuset: { cpus: '0-1' } });
    expect(fx.read('cpu', '/nsgate/app', 'cpu.cfs_quota_us')).toBe('20000');
    expect(fx.read('cpu', '/nsgate/app', 'cpu.cfs_period_us')).toBe('50000');
    expect(fx.read('cpu', '/nsgate/app', 'cpu.shares')).toBe('1024');
    expect(fx.read('pids', '/nsgate/app', 'pids.max')).toBe('max');
    expect(fx.read('cpuset', '/nsgate/app', 'cpuset.cpus')).toBe('0-1');
    expect(after).toMatchObject({ cpu: { quotaUs: 20000, periodUs: 50000, shares: 1024, weight: 100 }, pids: { max: null }, cpuset: { cpus: '0-1' } });
    await system.setLimits('/nsgate/app', { cpu: { quotaUs: 'max' } });
    expect(fx.read('cpu', '/nsgate/app', 'cpu.cfs_quota_us')).toBe('-1');
  });

  it('a v1 cpuset cannot be emptied', async () => {
    expect(await codeOf(() => fx.system().setLimits('/nsgate/app', { cpuset: { cpus: '' } }))).toBe('LIMIT_INVALID');
    expect(fx.read('cpuset', '/nsgate/app', 'cpuset.cpus')).toBe('1\n');
  });

  it('a failure half-way puts back what was already written', async () => {
    const system = fx.system();
    const real = CgroupFiles.prototype.write;
    vi.spyOn(CgroupFiles.prototype, 'write').mockImplementation(async function (this: CgroupFiles, dir, file, value) {
      if (file === 'pids.max') throw Object.assign(new Error('EINVAL'), { code: 'EINVAL' });
      return real.call(this, dir, file, value);
    });
    expect(await codeOf(() => system.setLimits('/nsgate/app', { memory: { max: '64M' }, cpu: { shares: 2048 }, pids: { max: 10 } }))).toBe('EINVAL');
    expect(fx.read('memory', '/nsgate/app', 'memory.limit_in_bytes').trim()).toBe('7999488');
    expect(fx.read('memory', '/nsgate/app', 'memory.memsw.limit_in_bytes')).toBe(UNLIMITED);
    expect(fx.read('cpu', '/nsgate/app', 'cpu.shares').trim()).toBe('512');
  });

  it('EBUSY from memory.limit_in_bytes is LIMIT_BELOW_USAGE with usage, peak and the old limit', async () => {
    const system = fx.system();
    const real = CgroupFiles.prototype.write;
    vi.spyOn(CgroupFiles.prototype, 'write').mockImplementation(async function (this: CgroupFiles, dir, file, value) {
      if (file === 'memory.limit_in_bytes') {
        const { NsgateError } = await import('../../../src/kernel/errors.js');
        throw new NsgateError('KERNEL_BUSY', 'busy', { errno: 'EBUSY' });
      }
      return real.call(this, dir, file, value);
    });
    try {
      await system.setLimits('/nsgate/app', { memory: { max: '8M' } });
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({
        code: 'LIMIT_BELOW_USAGE',
        details: { requested: 8 << 20, usage: 25165824, peak: 26214400, limit: 7999488 },
      });
      expect((err as Error).message).toContain('unable to set memory limit to 8388608 (current usage: 25165824, peak usage: 26214400)');
    }
    expect(fx.read('memory', '/nsgate/app', 'memory.limit_in_bytes')).toBe('7999488\n');
  });

  it('refuses changes outside the managed cgroups and leaves the files alone', async () => {
    const system = fx.system();
    expect(await codeOf(() => system.setLimits('/system.slice', { memory: { max: '8M' } }))).toBe('CGROUP_NOT_MANAGED');
    expect(await codeOf(() => system.setLimits('/nsgate/../system.slice', { memory: { max: '8M' } }))).toBe('CGROUP_PATH_INVALID');
    expect(await codeOf(() => system.setLimits('/', { pids: { max: 1 } }))).toBe('CGROUP_NOT_MANAGED');
    expect(await codeOf(() => system.moveProcess('/system.slice', process.pid))).toBe('CGROUP_NOT_MANAGED');
    expect(await codeOf(() => system.delete('/system.slice'))).toBe('CGROUP_NOT_MANAGED');
    expect(await codeOf(() => system.freeze('/system.slice'))).toBe('CGROUP_NOT_MANAGED');
    expect(await codeOf(() => system.kill('/system.slice'))).toBe('CGROUP_NOT_MANAGED');
    expect(await codeOf(() => system.create('/nsgatex'))).toBe('CGROUP_NOT_MANAGED');
    expect(await codeOf(() => system.setLimits('/nsgate/sneaky', { memory: { max: '8M' } }))).toBe('CGROUP_PATH_INVALID');
    expect(fx.read('memory', '/system.slice', 'memory.limit_in_bytes')).toBe(UNLIMITED);
    expect(fx.read('pids', '/', 'pids.max')).toBe('max\n');
    expect(fx.read('memory', '/system.slice', 'cgroup.procs')).toBe('77\n');
    expect(fx.read('freezer', '/system.slice', 'cgroup.procs')).toBe('77\n');
  });

  it('create makes the cgroup in every hierarchy, copies the parent cpuset, applies limits', async () => {
    populateOnMkdir('/nsgate/app/worker');
    const system = fx.system();
    const info = await system.create('/nsgate/new', { limits: { memory: { max: '64M' }, pids: { max: 10 } } });
    for (const m of ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'systemd', 'unified']) {
      expect(existsSync(fx.file(m, '/nsgate/new', '')), m).toBe(true);
    }
    // The new v1 cpuset starts empty, as the kernel makes it: it gets the parent's CPUs and nodes.
    expect(fx.read('cpuset', '/nsgate/new', 'cpuset.cpus')).toBe('0-1');
    expect(fx.read('cpuset', '/nsgate/new', 'cpuset.mems')).toBe('0');
    expect(fx.read('memory', '/nsgate/new', 'memory.limit_in_bytes')).toBe(String(64 << 20));
    expect(info).toMatchObject({ path: '/nsgate/new', limits: { memory: { max: 64 << 20 }, pids: { max: 10 } } });
    expect(await codeOf(() => system.create('/nsgate/app'))).toBe('CGROUP_EXISTS');
  });

  it('create makes missing managed ancestors too', async () => {
    populateOnMkdir('/nsgate/app/worker');
    const system = fx.system();
    await system.create('/nsgate/a/b/c');
    for (const p of ['/nsgate/a', '/nsgate/a/b', '/nsgate/a/b/c']) expect(existsSync(fx.file('memory', p, 'cgroup.procs')), p).toBe(true);
    expect(fx.read('cpuset', '/nsgate/a/b/c', 'cpuset.cpus')).toBe('0-1');
  });

  it('create with a refused limit makes nothing', async () => {
    const system = fx.system();
    expect(await codeOf(() => system.create('/nsgate/new', { limits: { memory: { max: '1M' } } }))).toBe('LIMIT_INVALID');
    expect(existsSync(fx.file('memory', '/nsgate/new', ''))).toBe(false);
  });

  it('create removes every directory it made when a later step fails', async () => {
    const system = fx.system();
    // Without populateOnMkdir the new folders have no control files: the limits fail after the mkdirs.
    expect(await codeOf(() => system.create('/nsgate/deep/er', { limits: { pids: { max: 10 } } }))).toBe('CONTROLLER_UNAVAILABLE');
    for (const m of ['memory', 'cpu', 'unified']) {
      expect(existsSync(fx.file(m, '/nsgate/deep', '')), m).toBe(false);
    }
    expect(existsSync(fx.file('memory', '/nsgate', ''))).toBe(true);
  });

  it('create under a parent that is not managed and missing is refused', async () => {
    populateOnMkdir('/nsgate/app/worker');
    const system = fx.system({ managed: ['/nsgate/app/worker/x'] });
    expect(await codeOf(() => system.create('/nsgate/app/worker/x'))).toBe('no error');
    expect(await codeOf(() => system.create('/nsgate/missing/x'))).toBe('CGROUP_NOT_MANAGED');
    const system2 = fx.system({ managed: ['/other/x'] });
    expect(await codeOf(() => system2.create('/other/x'))).toBe('CGROUP_NOT_FOUND');
  });

  it('delete refuses a cgroup with processes or children, then removes it everywhere', async () => {
    const system = fx.system();
    const err = await system.delete('/nsgate/app').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CGROUP_NOT_EMPTY', details: { children: ['worker'] } });
    expect(await codeOf(() => system.delete('/nsgate/app/worker'))).toBe('no error');
    expect(existsSync(fx.file('memory', '/nsgate/app/worker', ''))).toBe(false);
    expect(existsSync(fx.file('unified', '/nsgate/app/worker', ''))).toBe(false);
    // Fixture pids 4242/4243 are not live processes here; a live one is.
    for (const m of ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'systemd', 'unified']) {
      writeFileSync(fx.file(m, '/nsgate/app', 'cgroup.procs'), `${process.pid}\n`);
    }
    expect(await system.delete('/nsgate/app').catch((e: unknown) => e)).toMatchObject({ code: 'CGROUP_NOT_EMPTY', details: { processes: [process.pid] } });
    expect(await codeOf(() => system.delete('/nsgate/nope'))).toBe('CGROUP_NOT_FOUND');
  });

  it('moves a pid into every hierarchy, unified first; refuses kernel threads and missing pids', async () => {
    // this test process stands for any process (the registry that protects nsgate itself is a fake here)
    const system = fx.system({ protectedProcesses: new ProtectedProcesses(-1) });
    const result = await system.moveProcess('/nsgate/app/worker', process.pid, { fromUnmanaged: true });
    expect(result.hierarchies).toHaveLength(10);
    expect(fx.read('memory', '/nsgate/app/worker', 'cgroup.procs')).toBe(String(process.pid));
    expect(fx.read('unified', '/nsgate/app/worker', 'cgroup.procs')).toBe(String(process.pid));
    expect(await codeOf(() => system.moveProcess('/nsgate/app', 2))).toBe('KERNEL_THREAD');
    expect(await codeOf(() => system.moveProcess('/nsgate/app', 0))).toBe('VALIDATION_FAILED');
    expect(await codeOf(() => system.moveProcess('/nsgate/app', 4_000_000))).toBe('PROCESS_NOT_FOUND');
  });

  it('never moves pid 1, nsgate itself or a running helper, whoever asks; a process outside the managed cgroups only for fromUnmanaged', async () => {
    const registry = new ProtectedProcesses(process.pid);
    const system = fx.system({ protectedProcesses: registry });
    const refusal = (pid: number, options = { fromUnmanaged: true }) => system.moveProcess('/nsgate/app', pid, options).catch((e: unknown) => e);
    expect(await refusal(1)).toMatchObject({ code: 'PROCESS_PROTECTED', details: { reason: 'init' } });
    expect(await refusal(process.pid)).toMatchObject({ code: 'PROCESS_PROTECTED', details: { reason: 'nsgate' } });
    const other = new ProtectedProcesses(-1);
    other.addHelper(process.pid);
    expect(await fx.system({ protectedProcesses: other }).moveProcess('/nsgate/app', process.pid, { fromUnmanaged: true }).catch((e: unknown) => e)).toMatchObject({
      code: 'PROCESS_PROTECTED',
      details: { reason: 'helper' },
    });
    // this process lives in cgroups outside /nsgate on the real /proc the fixture reads
    expect(await fx.system({ protectedProcesses: new ProtectedProcesses(-1) }).moveProcess('/nsgate/app', process.pid).catch((e: unknown) => e)).toMatchObject({
      code: 'CGROUP_NOT_MANAGED',
    });
    expect(fx.read('memory', '/nsgate/app', 'cgroup.procs')).not.toContain(String(process.pid));
  });

  it('freeze waits for FROZEN and thaws back when the kernel never gets there', async () => {
    const system = fx.system();
    // A plain file keeps whatever was written: FROZEN reads back at once.
    expect(await system.freeze('/nsgate/app')).toBe('frozen');
    expect(fx.read('freezer', '/nsgate/app', 'freezer.state')).toBe('FROZEN');
    expect(await system.thaw('/nsgate/app')).toBe('thawed');
  });

  // A fixture because the real kernel keeps a cgroup FREEZING only while a task sits in an
  // uninterruptible sleep or vfork, which no test can arrange on demand; the spy plays that kernel.
  it('the freeze loop retries FREEZING but never re-freezes after a thaw someone else wrote', async () => {
    const state = fx.file('freezer', '/nsgate/app', 'freezer.state');
    const real = CgroupFiles.prototype.write;
    let frozenWrites = 0;
    vi.spyOn(CgroupFiles.prototype, 'write').mockImplementation(async function (this: CgroupFiles, dir, file, value) {
      await real.call(this, dir, file, value);
      if (file !== 'freezer.state' || value !== 'FROZEN') return;
      frozenWrites++;
      writeFileSync(state, 'FREEZING\n'); // a task the kernel cannot freeze yet
      if (frozenWrites === 2) writeFileSync(state, 'THAWED\n'); // root thaws it by hand
    });
    const err = await fx.system().freeze('/nsgate/app').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFLICT', details: { state: 'THAWED' } });
    expect(frozenWrites).toBe(2);
    expect(fx.read('freezer', '/nsgate/app', 'freezer.state')).toBe('THAWED\n');
  });

  it('concurrent changes to one cgroup are serialized: the second sees the first one\'s after', async () => {
    const system = fx.system();
    const [a, b] = await Promise.all([
      system.setLimits('/nsgate/app', { pids: { max: 10 } }),
      system.setLimits('/nsgate/app', { pids: { max: 20 } }),
    ]);
    expect(a.before.pids).toEqual({ max: 64 });
    expect(a.after.pids).toEqual({ max: 10 });
    expect(b.before.pids).toEqual({ max: 10 });
    expect(b.after.pids).toEqual({ max: 20 });
  });
});
