// Staged lowering on the cgroup v2 fixture: the order of nsgate's writes (memory.high, then
// memory.reclaim, then memory.max, then memory.high back). The kernel's side of memory.reclaim
// (usage falling) cannot happen in a folder tree: the spy below plays it, writing memory.current
// as a kernel that reclaimed would. This host's kernel is v1 (test/e2e/limits-reclaim.e2e.ts
// runs the real thing there).
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CgroupFiles } from '../../../src/kernel/cgroups/index.js';
import { NsgateError } from '../../../src/kernel/errors.js';
import { type CgroupFixture, loadFixture } from './fixture.js';

const MiB = 1024 * 1024;

describe('lowering memory in stages on cgroup v2 (fixture)', () => {
  let fx: CgroupFixture;
  let writes: string[];
  beforeEach(() => {
    fx = loadFixture('cgroup-v2');
    writeFileSync(fx.file('', '/nsgate/app', 'memory.reclaim'), '');
    writes = [];
  });
  afterEach(() => {
    vi.restoreAllMocks();
    fx.cleanup();
  });

  /** Records each write; `reclaims` says whether a write of memory.reclaim brings usage to what was asked. */
  function watchWrites(reclaims: boolean): void {
    const real = CgroupFiles.prototype.write;
    vi.spyOn(CgroupFiles.prototype, 'write').mockImplementation(async function (this: CgroupFiles, dir, file, value) {
      writes.push(`${file} ${value}`);
      await real.call(this, dir, file, value);
      if (file === 'memory.reclaim' && reclaims) {
        const current = Number(fx.read('', dir.path, 'memory.current'));
        writeFileSync(fx.file('', dir.path, 'memory.current'), `${current - Number(value)}\n`);
      }
    });
  }

  it('throttles with memory.high, pushes memory.reclaim, sets memory.max once usage is under it, and puts memory.high back', async () => {
    watchWrites(true);
    const update = await fx.system().setLimits('/nsgate/app', { memory: { max: '32M' } }, { strategy: 'reclaim', timeoutMs: 2000 });
    expect(update.after.memory?.max).toBe(32 * MiB);
    expect(writes).toEqual([`memory.high ${32 * MiB}`, `memory.reclaim ${50331648 - 32 * MiB}`, `memory.max ${32 * MiB}`, 'memory.high max']);
    expect(fx.read('', '/nsgate/app', 'memory.high').trim()).toBe('max');
  });

  it('a dry run writes nothing and says the stages around the limit write (the same order as the real run)', async () => {
    watchWrites(true);
    const update = await fx.system().setLimits('/nsgate/app', { memory: { max: '32M' } }, { strategy: 'reclaim', timeoutMs: 2000, dryRun: true });
    expect(writes).toEqual([]);
    expect(fx.read('', '/nsgate/app', 'memory.max').trim()).toBe('7999488');
    expect(update.after).toEqual(update.before);
    expect(update.writes?.map((w) => `${w.file.split('/').at(-1)} ${w.to}`)).toEqual([`memory.max ${32 * MiB}`]);
    expect(update.stages?.map((w) => `${w.file.split('/').at(-1)} ${w.to}`)).toEqual([`memory.high ${32 * MiB}`, `memory.reclaim ${50331648 - 32 * MiB}`, 'memory.high max']);
    // above usage no stage is needed
    const plain = await fx.system().setLimits('/nsgate/app', { memory: { max: '64M' } }, { strategy: 'reclaim', dryRun: true });
    expect(plain.stages).toEqual([]);
    expect(writes).toEqual([]);
  });

  it('when usage does not fall: 409 with the numbers, memory.max untouched, memory.high put back', async () => {
    watchWrites(false);
    const err = await fx
      .system()
      .setLimits('/nsgate/app', { memory: { max: '32M' } }, { strategy: 'reclaim', timeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NsgateError);
    expect((err as NsgateError).code).toBe('LIMIT_BELOW_USAGE');
    expect((err as NsgateError).details).toMatchObject({ requested: 32 * MiB, usage: 50331648, limit: 7999488, timeoutMs: 300, strategy: 'reclaim' });
    expect((err as NsgateError).details?.tried).toEqual(expect.arrayContaining([`memory.high ${32 * MiB}`, 'memory.reclaim']));
    expect(writes.filter((w) => w.startsWith('memory.max'))).toEqual([]);
    expect(writes.at(-1)).toBe('memory.high max');
    expect(fx.read('', '/nsgate/app', 'memory.max').trim()).toBe('7999488');
  });

  it('without memory.reclaim (before 5.19) it throttles and waits only', async () => {
    rmSync(fx.file('', '/nsgate/app', 'memory.reclaim'));
    expect(existsSync(fx.file('', '/nsgate/app', 'memory.reclaim'))).toBe(false);
    watchWrites(false);
    await fx
      .system()
      .setLimits('/nsgate/app', { memory: { max: '32M' } }, { strategy: 'reclaim', timeoutMs: 200 })
      .catch(() => undefined);
    expect(writes).toEqual([`memory.high ${32 * MiB}`, 'memory.high max']);
  });
});
