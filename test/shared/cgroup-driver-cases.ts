// The cgroup layer's vocabulary, checked against a real kernel. Framework-free on purpose: the
// e2e test runs these cases on this machine (hybrid: v1 controllers), and the VM harness runs
// the same cases on a cgroup v2 kernel with every controller (compiled to JS, with
// node:assert). Only erasable TypeScript is used, and src is imported for types only: the
// runner passes the CgroupSystem in.
//
// Safety: every case works below ctx.parent (a /nsgate-test-<random> cgroup the runner made),
// signals only processes it started, by pid, and removes what it made even when it fails.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupHierarchy, CgroupSystem, Limits } from '../../src/kernel/cgroups/index.js';

export interface CaseAssert {
  /** Deep equality (expect().toEqual or assert.deepStrictEqual). */
  equal(actual: unknown, expected: unknown, message?: string): void;
  ok(value: unknown, message?: string): void;
}

export interface CaseContext {
  /** The system under test, managing ctx.parent and below. */
  system: CgroupSystem;
  /** A second CgroupSystem on the same host with other managed prefixes (for the "not managed" cases). */
  systemWith(managed: string[]): CgroupSystem;
  /** A cgroup the runner created (e.g. /nsgate-test-1a2b3c); each case makes its own child below it. */
  parent: string;
  assert: CaseAssert;
  /** Facts worth printing (the VM prints them as JSON). */
  detail: Record<string, unknown>;
  /** Every pid a case starts is added here, so the runner can kill leftovers by pid. */
  started: Set<number>;
  /** The node binary for the memory holder. Default process.execPath. */
  nodePath?: string;
  /** A POSIX shell. Default /bin/sh. */
  shell?: string;
}

export interface DriverCase {
  name: string;
  run(ctx: CaseContext): Promise<void>;
}

const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The kernel's 4 KiB page rounding of 8000000 (x86-64, the tutorial's machine). */
export const MEMORY_8000000_READS_BACK = 7999488;

// ---- processes --------------------------------------------------------------------------

export interface Started {
  child: ChildProcess;
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startProcess(ctx: CaseContext, argv: string[], stdin: 'pipe' | 'ignore' = 'ignore'): Promise<Started> {
  const child = spawn(argv[0], argv.slice(1), { stdio: [stdin, stdin === 'pipe' ? 'pipe' : 'ignore', 'ignore'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  const pid = child.pid!;
  ctx.started.add(pid);
  return { child, pid, exited };
}

/** SIGKILL to a process this run started (by pid), and wait for it. */
export async function stopProcess(ctx: CaseContext, p: Started): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await p.exited;
  ctx.started.delete(p.pid);
}

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** utime + stime in clock ticks, from /proc/PID/stat. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function procCgroupPaths(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.slice(l.indexOf(':', l.indexOf(':') + 1) + 1));
}

// ---- raw kernel files (never through the code under test) ---------------------------------

function hierarchyOf(system: CgroupSystem, controller: string): CgroupHierarchy {
  const h = system.hierarchies.find((x) => x.version === 1 && x.controllers.includes(controller)) ?? system.hierarchies.find((x) => x.version === 2);
  if (!h) throw new Error(`no hierarchy for ${controller}`);
  return h;
}

/** Reads a cgroup file straight from the mount, trimmed. */
export function rawRead(system: CgroupSystem, controller: string, path: string, file: string): string {
  return readFileSync(join(hierarchyOf(system, controller).mountPoint, path, file), 'utf8').trim();
}

function versionOf(system: CgroupSystem, controller: 'memory' | 'cpu' | 'pids' | 'cpuset' | 'freezer'): 1 | 2 {
  return system.hierarchies.some((h) => h.version === 1 && h.controllers.includes(controller)) ? 1 : 2;
}

const FILES = {
  memoryMax: { 1: 'memory.limit_in_bytes', 2: 'memory.max' },
} as const;

async function codeOf(work: () => unknown): Promise<{ code: string; details?: Record<string, unknown>; message?: string }> {
  try {
    await work();
    return { code: 'no error' };
  } catch (err) {
    const e = err as { code?: string; details?: Record<string, unknown>; message?: string };
    return { code: e.code ?? String(err), details: e.details, message: e.message };
  }
}

/** Runs `body` with a fresh cgroup below ctx.parent, killing its processes and removing it afterwards. */
async function withCgroup(ctx: CaseContext, name: string, body: (path: string) => Promise<void>): Promise<void> {
  const path = `${ctx.parent}/${name}`;
  await ctx.system.create(path);
  try {
    await body(path);
  } finally {
    await removeTestTree(ctx.system.hierarchies, path, ctx.started);
  }
}

// ---- the cases ---------------------------------------------------------------------------

export const cgroupDriverCases: DriverCase[] = [
  {
    name: 'create, then memory 8000000 reads back 7999488 in "after" and in the file',
    async run(ctx) {
      await withCgroup(ctx, 'memory', async (path) => {
        const v = versionOf(ctx.system, 'memory');
        const update = await ctx.system.setLimits(path, { memory: { max: 8000000 } });
        ctx.detail.before = update.before.memory;
        ctx.detail.after = update.after.memory;
        ctx.assert.equal(update.before.memory?.max, null, 'a new cgroup has no memory limit');
        ctx.assert.equal(update.after.memory?.max, MEMORY_8000000_READS_BACK, 'after.memory.max');
        ctx.assert.equal(rawRead(ctx.system, 'memory', path, FILES.memoryMax[v]), String(MEMORY_8000000_READS_BACK), FILES.memoryMax[v]);
        const back = await ctx.system.setLimits(path, { memory: { max: 'max' } });
        ctx.assert.equal(back.after.memory?.max, null, 'memory.max back to unlimited');
      });
    },
  },
  {
    name: 'create with limits applies them; swapMax is swap alone',
    async run(ctx) {
      const path = `${ctx.parent}/created`;
      try {
        const info = await ctx.system.create(path, { limits: { memory: { max: '64M', swapMax: 0 }, pids: { max: 32 } } });
        ctx.detail.limits = info.limits;
        ctx.assert.equal(info.limits.memory?.max, 64 * 1024 * 1024, 'memory.max');
        ctx.assert.equal(info.limits.memory?.swapMax, 0, 'swapMax');
        ctx.assert.equal(info.limits.pids?.max, 32, 'pids.max');
        if (versionOf(ctx.system, 'memory') === 1 && existsSync(join(hierarchyOf(ctx.system, 'memory').mountPoint, path, 'memory.memsw.limit_in_bytes'))) {
          // v1 keeps memory+swap: with no swap allowed it equals the memory limit.
          ctx.assert.equal(rawRead(ctx.system, 'memory', path, 'memory.memsw.limit_in_bytes'), String(64 * 1024 * 1024), 'memsw');
        }
        const more = await ctx.system.setLimits(path, { memory: { swapMax: '32M' } });
        ctx.assert.equal(more.after.memory, { max: 64 * 1024 * 1024, high: more.after.memory?.high ?? null, swapMax: 32 * 1024 * 1024 }, 'swap raised alone');
        const bigger = await ctx.system.setLimits(path, { memory: { max: '128M' } });
        ctx.assert.equal(bigger.after.memory?.swapMax, 32 * 1024 * 1024, 'raising memory keeps the swap allowance');
      } finally {
        await removeTestTree(ctx.system.hierarchies, path, ctx.started);
      }
    },
  },
  {
    name: 'pids.max round-trips (64, then max)',
    async run(ctx) {
      await withCgroup(ctx, 'pids', async (path) => {
        const a = await ctx.system.setLimits(path, { pids: { max: 64 } });
        ctx.assert.equal(a.after.pids, { max: 64 }, 'after');
        ctx.assert.equal(rawRead(ctx.system, 'pids', path, 'pids.max'), '64', 'pids.max file');
        const b = await ctx.system.setLimits(path, { pids: { max: 'max' } });
        ctx.assert.equal(b.before.pids, { max: 64 }, 'before');
        ctx.assert.equal(rawRead(ctx.system, 'pids', path, 'pids.max'), 'max', 'pids.max file reset');
      });
    },
  },
  {
    name: 'cpu quota/period and shares/weight round-trip',
    async run(ctx) {
      await withCgroup(ctx, 'cpu', async (path) => {
        const v = versionOf(ctx.system, 'cpu');
        const { after } = await ctx.system.setLimits(path, { cpu: { max: '50000 100000', shares: 512 } });
        ctx.detail.after = after.cpu;
        ctx.assert.equal([after.cpu?.quotaUs, after.cpu?.periodUs], [50000, 100000], 'quota and period');
        if (v === 1) {
          ctx.assert.equal(rawRead(ctx.system, 'cpu', path, 'cpu.cfs_quota_us'), '50000', 'cfs_quota_us');
          ctx.assert.equal(rawRead(ctx.system, 'cpu', path, 'cpu.cfs_period_us'), '100000', 'cfs_period_us');
          ctx.assert.equal(rawRead(ctx.system, 'cpu', path, 'cpu.shares'), '512', 'cpu.shares');
          ctx.assert.equal(after.cpu?.shares, 512, 'shares');
        } else {
          ctx.assert.equal(rawRead(ctx.system, 'cpu', path, 'cpu.max'), '50000 100000', 'cpu.max');
          ctx.assert.equal(rawRead(ctx.system, 'cpu', path, 'cpu.weight'), String(after.cpu?.weight), 'cpu.weight');
        }
        const w = await ctx.system.setLimits(path, { cpu: { weight: 100, periodUs: 20000 } });
        ctx.assert.equal([w.after.cpu?.weight, w.after.cpu?.shares, w.after.cpu?.periodUs, w.after.cpu?.quotaUs], [100, 1024, 20000, 50000], 'weight 100 is shares 1024');
        const none = await ctx.system.setLimits(path, { cpu: { max: 'max' } });
        ctx.assert.equal(none.after.cpu?.quotaUs, null, 'quota removed');
      });
    },
  },
  {
    name: 'cpuset cpus/mems round-trip; lists beyond the online CPUs are refused with the files untouched',
    async run(ctx) {
      await withCgroup(ctx, 'cpuset', async (path) => {
        const { after } = await ctx.system.setLimits(path, { cpuset: { cpus: '0', mems: '0' } });
        // Beside what was asked, what is in effect (v1 cpuset.effective_cpus, v2 cpuset.cpus.effective).
        const effective = versionOf(ctx.system, 'cpuset') === 1 ? ['cpuset.effective_cpus', 'cpuset.effective_mems'] : ['cpuset.cpus.effective', 'cpuset.mems.effective'];
        ctx.assert.equal(after.cpuset, { cpus: '0', mems: '0', effectiveCpus: '0', effectiveMems: '0' }, 'after');
        ctx.assert.equal(effective.map((f) => rawRead(ctx.system, 'cpuset', path, f)), ['0', '0'], 'the effective files');
        ctx.assert.equal(rawRead(ctx.system, 'cpuset', path, 'cpuset.cpus'), '0', 'cpuset.cpus file');
        for (const cpus of ['0-4095', '1-9223372036854775807', '0-1:1/2', 'x']) {
          const t0 = Date.now();
          const r = await codeOf(() => ctx.system.setLimits(path, { cpuset: { cpus } }));
          ctx.assert.equal(r.code, 'LIMIT_INVALID', `cpus ${cpus}`);
          ctx.assert.ok(Date.now() - t0 < 1000, `refused fast: ${cpus}`);
        }
        ctx.assert.equal(rawRead(ctx.system, 'cpuset', path, 'cpuset.cpus'), '0', 'cpuset.cpus untouched');
      });
    },
  },
  {
    name: 'invalid values are refused before any write',
    async run(ctx) {
      await withCgroup(ctx, 'invalid', async (path) => {
        await ctx.system.setLimits(path, { pids: { max: 50 }, memory: { max: '64M' } });
        const v = versionOf(ctx.system, 'memory');
        for (const limits of [
          { memory: { max: '1M' } },
          { memory: { max: '64M' }, pids: { max: 0 } },
          { cpu: { quotaUs: 999 } },
          { cpu: { periodUs: 2_000_000 } },
          { cpu: { weight: 0 } },
          { pids: { max: -7 } },
          { pids: { max: 10 }, bogus: {} },
        ]) {
          ctx.assert.equal((await codeOf(() => ctx.system.setLimits(path, limits))).code, 'LIMIT_INVALID', JSON.stringify(limits));
        }
        ctx.assert.equal(rawRead(ctx.system, 'pids', path, 'pids.max'), '50', 'pids.max untouched');
        ctx.assert.equal(rawRead(ctx.system, 'memory', path, FILES.memoryMax[v]), String(64 * 1024 * 1024), 'memory untouched');
      });
    },
  },
  {
    name: 'a process moves in: /proc/PID/cgroup shows the cgroup in every hierarchy',
    async run(ctx) {
      await withCgroup(ctx, 'move', async (path) => {
        const p = await startProcess(ctx, ['sleep', '1000']);
        try {
          const moved = await ctx.system.moveProcess(path, p.pid, { fromUnmanaged: true });
          ctx.detail.hierarchies = moved.hierarchies;
          const paths = procCgroupPaths(p.pid);
          ctx.detail.procCgroup = paths;
          ctx.assert.equal(
            paths.filter((x) => x !== path),
            [],
            '/proc/PID/cgroup names the new cgroup on every line',
          );
          ctx.assert.equal(ctx.system.processes(path), [p.pid], 'processes()');
          const stats = ctx.system.readStats(path);
          ctx.assert.equal(stats.pids?.current, 1, 'pids.current');
        } finally {
          await stopProcess(ctx, p);
        }
      });
    },
  },
  {
    name: 'freeze really stops a busy process; thaw lets it run again',
    async run(ctx) {
      await withCgroup(ctx, 'freeze', async (path) => {
        const p = await startProcess(ctx, [ctx.shell ?? '/bin/sh', '-c', 'while :; do :; done']);
        try {
          await ctx.system.moveProcess(path, p.pid, { fromUnmanaged: true });
          const running0 = cpuTicks(p.pid);
          await sleepMs(300);
          ctx.assert.ok(cpuTicks(p.pid) > running0, 'the loop uses CPU before the freeze');
          ctx.assert.equal(await ctx.system.freeze(path), 'frozen', 'freeze() answer');
          ctx.assert.equal(ctx.system.freezeState(path), 'frozen', 'freezeState');
          const frozen0 = cpuTicks(p.pid);
          await sleepMs(500);
          const frozen1 = cpuTicks(p.pid);
          ctx.detail.frozenTicks = [frozen0, frozen1];
          ctx.assert.equal(frozen1, frozen0, 'no CPU time while frozen');
          ctx.assert.equal(await ctx.system.thaw(path), 'thawed', 'thaw() answer');
          const thawed0 = cpuTicks(p.pid);
          await sleepMs(300);
          ctx.assert.ok(cpuTicks(p.pid) > thawed0, 'the loop runs again after thaw');
        } finally {
          await ctx.system.thaw(path).catch(() => undefined);
          await stopProcess(ctx, p);
        }
      });
    },
  },
  {
    name: 'kill ends every process of the cgroup and of its children',
    async run(ctx) {
      await withCgroup(ctx, 'kill', async (path) => {
        // Processes sit in leaves: on v2 a cgroup that delegates controllers to children holds none itself.
        await ctx.system.create(`${path}/a`);
        await ctx.system.create(`${path}/a/deeper`);
        await ctx.system.create(`${path}/b`);
        const ps = [await startProcess(ctx, ['sleep', '1000']), await startProcess(ctx, ['sleep', '1000']), await startProcess(ctx, ['sleep', '1000'])];
        await ctx.system.moveProcess(`${path}/a/deeper`, ps[0].pid, { fromUnmanaged: true });
        await ctx.system.moveProcess(`${path}/a/deeper`, ps[1].pid, { fromUnmanaged: true });
        await ctx.system.moveProcess(`${path}/b`, ps[2].pid, { fromUnmanaged: true });
        const result = await ctx.system.kill(path);
        ctx.detail.kill = result;
        const exits = await Promise.all(ps.map((p) => p.exited));
        for (const p of ps) ctx.started.delete(p.pid);
        ctx.assert.equal(
          exits.map((e) => e.signal),
          ['SIGKILL', 'SIGKILL', 'SIGKILL'],
          'every process was SIGKILLed',
        );
        for (const sub of ['a/deeper', 'b']) ctx.assert.equal(ctx.system.processes(`${path}/${sub}`).filter(isAlive), [], `nothing alive in ${sub}`);
        const frozen = ctx.system.freezeState(path);
        ctx.assert.ok(frozen === null || frozen === 'thawed', `left thawed (${frozen})`);
      });
    },
  },
  {
    name: 'delete refuses a populated cgroup, then removes it from every hierarchy',
    async run(ctx) {
      const path = `${ctx.parent}/delete`;
      await ctx.system.create(path);
      const p = await startProcess(ctx, ['sleep', '1000']);
      try {
        await ctx.system.moveProcess(path, p.pid, { fromUnmanaged: true });
        const r = await codeOf(() => ctx.system.delete(path));
        ctx.assert.equal([r.code, r.details?.processes], ['CGROUP_NOT_EMPTY', [p.pid]], 'populated');
        await stopProcess(ctx, p);
        await ctx.system.delete(path);
        ctx.assert.equal(ctx.system.exists(path), false, 'exists()');
        ctx.assert.equal(
          ctx.system.hierarchies.filter((h) => existsSync(join(h.mountPoint, path))).map((h) => h.mountPoint),
          [],
          'no directory left in any hierarchy',
        );
        ctx.assert.equal((await codeOf(() => ctx.system.delete(path))).code, 'CGROUP_NOT_FOUND', 'second delete');
      } finally {
        await stopProcess(ctx, p);
        await removeTestTree(ctx.system.hierarchies, path, ctx.started);
      }
    },
  },
  {
    name: 'a memory limit below usage is 409 with the workload alive and the old limit intact',
    async run(ctx) {
      await withCgroup(ctx, 'below', async (path) => {
        const v = versionOf(ctx.system, 'memory');
        await ctx.system.setLimits(path, { memory: { max: '64M' } });
        // The holder allocates only after it has been moved in (charges do not follow a process).
        const holder = await startProcess(
          ctx,
          [ctx.nodePath ?? process.execPath, '-e', "process.stdin.once('data',()=>{globalThis.b=Buffer.alloc(20<<20,1);console.log('ready')});setInterval(()=>{},1e6)"],
          'pipe',
        );
        try {
          await ctx.system.moveProcess(path, holder.pid, { fromUnmanaged: true });
          const ready = new Promise<void>((resolve) => holder.child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
          holder.child.stdin!.write('go\n');
          await ready;
          const usage = ctx.system.readStats(path).memory?.usage ?? 0;
          ctx.detail.usage = usage;
          ctx.assert.ok(usage >= 20 * 1024 * 1024, `usage ${usage} is at least 20 MiB`);
          const r = await codeOf(() => ctx.system.setLimits(path, { memory: { max: '8M' } }));
          ctx.detail.error = { code: r.code, message: r.message, details: r.details };
          ctx.assert.equal(r.code, 'LIMIT_BELOW_USAGE', 'code');
          ctx.assert.equal(r.details?.limit, 64 * 1024 * 1024, 'details.limit is the old limit');
          ctx.assert.ok(typeof r.details?.usage === 'number' && (r.details.usage as number) >= 8 * 1024 * 1024, 'details.usage');
          ctx.assert.ok(typeof r.details?.peak === 'number' || v === 2, 'details.peak');
          ctx.assert.ok(isAlive(holder.pid), 'the workload is alive');
          ctx.assert.equal(rawRead(ctx.system, 'memory', path, FILES.memoryMax[v]), String(64 * 1024 * 1024), 'the old limit is in the file');
        } finally {
          await stopProcess(ctx, holder);
        }
      });
    },
  },
  {
    name: 'unmanaged and traversal paths are refused and the files stay as they were',
    async run(ctx) {
      const inside = `${ctx.parent}/inside`;
      const outside = `${ctx.parent}/outside`;
      const p = await startProcess(ctx, ['sleep', '1000']);
      try {
        await ctx.system.create(inside);
        await ctx.system.create(outside, { limits: { pids: { max: 50 }, memory: { max: '64M' } } });
        await ctx.system.moveProcess(outside, p.pid, { fromUnmanaged: true });
        const narrow = ctx.systemWith([inside]);
        const v = versionOf(ctx.system, 'memory');
        const snapshot = (): unknown => [
          rawRead(ctx.system, 'pids', outside, 'pids.max'),
          rawRead(ctx.system, 'memory', outside, FILES.memoryMax[v]),
          procCgroupPaths(p.pid),
          ctx.system.freezeState(outside),
        ];
        const before = snapshot();
        const attempts: [string, () => Promise<unknown>, string][] = [
          ['setLimits outside', () => narrow.setLimits(outside, { pids: { max: 1 }, memory: { max: '8M' } }), 'CGROUP_NOT_MANAGED'],
          ['setLimits via ..', () => narrow.setLimits(`${inside}/../outside`, { pids: { max: 1 } }), 'CGROUP_PATH_INVALID'],
          ['setLimits via //', () => narrow.setLimits(`${inside}//x`, { pids: { max: 1 } }), 'CGROUP_PATH_INVALID'],
          ['setLimits with a newline', () => narrow.setLimits(`${inside}\n${outside}`, { pids: { max: 1 } }), 'CGROUP_PATH_INVALID'],
          ['setLimits with NUL', () => narrow.setLimits(`${inside}\0`, { pids: { max: 1 } }), 'CGROUP_PATH_INVALID'],
          ['setLimits on the root', () => ctx.system.setLimits('/', { pids: { max: 1 } }), 'CGROUP_NOT_MANAGED'],
          ['a look-alike prefix', () => narrow.setLimits(`${inside}x`, { pids: { max: 1 } }), 'CGROUP_NOT_MANAGED'],
          ['delete outside', () => narrow.delete(outside), 'CGROUP_NOT_MANAGED'],
          ['move into outside', () => narrow.moveProcess(outside, p.pid, { fromUnmanaged: true }), 'CGROUP_NOT_MANAGED'],
          ['freeze outside', () => narrow.freeze(outside), 'CGROUP_NOT_MANAGED'],
          ['kill outside', () => narrow.kill(outside), 'CGROUP_NOT_MANAGED'],
          ['create outside', () => narrow.create(`${outside}/x`), 'CGROUP_NOT_MANAGED'],
        ];
        for (const [what, attempt, code] of attempts) {
          ctx.assert.equal((await codeOf(attempt)).code, code, what);
        }
        ctx.assert.equal(snapshot(), before, 'nothing changed outside');
        ctx.assert.equal(ctx.system.exists(`${outside}/x`), false, 'nothing created outside');
      } finally {
        await stopProcess(ctx, p);
        await removeTestTree(ctx.system.hierarchies, inside, ctx.started);
        await removeTestTree(ctx.system.hierarchies, outside, ctx.started);
      }
    },
  },
  {
    name: 'concurrent changes to one cgroup are serialized (each before is the previous after)',
    async run(ctx) {
      await withCgroup(ctx, 'serial', async (path) => {
        const updates = await Promise.all([10, 11, 12, 13, 14].map((n) => ctx.system.setLimits(path, { pids: { max: n } })));
        ctx.assert.equal(
          updates.map((u) => [u.before.pids?.max, u.after.pids?.max]),
          [
            [null, 10],
            [10, 11],
            [11, 12],
            [12, 13],
            [13, 14],
          ],
          'before/after chain',
        );
      });
    },
  },
  {
    name: 'stats of a running process: memory, cpu, pids (and pressure where the kernel has it)',
    async run(ctx) {
      await withCgroup(ctx, 'stats', async (path) => {
        const p = await startProcess(ctx, [ctx.shell ?? '/bin/sh', '-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exec sleep 1000']);
        try {
          await ctx.system.moveProcess(path, p.pid, { fromUnmanaged: true });
          await sleepMs(300);
          const stats = ctx.system.readStats(path);
          ctx.detail.stats = stats;
          ctx.assert.ok(typeof stats.memory?.usage === 'number', 'memory.usage');
          ctx.assert.ok((stats.cpu?.usageNs ?? 0) > 0, 'cpu.usageNs');
          ctx.assert.ok(stats.pids?.current === 1 || stats.pids?.current === 2, 'pids.current');
          if (ctx.system.drivers.some((d) => d.features.has('pressure'))) {
            ctx.assert.ok(stats.pressure?.cpu?.some, 'cpu pressure some line');
            ctx.assert.ok(stats.pressure?.memory?.full, 'memory pressure full line');
          }
          const limits: Limits = ctx.system.readLimits(path);
          ctx.assert.ok(limits.memory && limits.cpu && limits.pids && limits.cpuset, 'every limit group is there');
        } finally {
          await stopProcess(ctx, p);
        }
      });
    },
  },
];

// ---- cleanup ---------------------------------------------------------------------------

/**
 * Removes a test cgroup tree from every hierarchy with plain fs calls (not the code under
 * test): thaws it, SIGKILLs the processes this run started (by pid; any other process found is
 * reported, never signalled), then rmdirs deepest first. Returns what could not be removed.
 */
export async function removeTestTree(hierarchies: readonly CgroupHierarchy[], path: string, started: Set<number>): Promise<string[]> {
  const left: string[] = [];
  for (const h of hierarchies) {
    const root = join(h.mountPoint, path);
    if (!existsSync(root)) continue;
    const dirs: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory() && !e.isSymbolicLink()) walk(join(dir, e.name));
      dirs.push(dir);
    };
    walk(root);
    for (const dir of dirs) {
      for (const [file, value] of [
        ['freezer.state', 'THAWED'],
        ['cgroup.freeze', '0'],
      ]) {
        if (existsSync(join(dir, file))) {
          try {
            writeFileSync(join(dir, file), value);
          } catch {
            // best effort
          }
        }
      }
      const procs = existsSync(join(dir, 'cgroup.procs')) ? readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number) : [];
      for (const pid of procs) {
        if (started.has(pid)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        } else if (isAlive(pid)) {
          left.push(`${dir}: pid ${pid} was not started by this run; left alone`);
        }
      }
    }
    for (const dir of dirs) {
      for (let attempt = 0; ; attempt++) {
        try {
          rmdirSync(dir);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          if (code === 'EBUSY' && attempt < 50) {
            await sleepMs(20);
            continue;
          }
          left.push(`${dir}: ${code}`);
          break;
        }
      }
    }
  }
  return left;
}
