// Driver cases that only make sense on a pure cgroup v2 host with every controller (the VM),
// next to the shared vocabulary cases of test/shared/cgroup-driver-cases.ts. Same context
// (CaseContext). Imports nothing from the repo, so the host can import it for the names.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ALL_FEATURES = ['cpu', 'cpuacct', 'cpuset', 'freezer', 'io', 'kill', 'memory', 'pids', 'pressure'];

async function startSleep(ctx) {
  const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  ctx.started.add(child.pid);
  return {
    pid: child.pid,
    exited,
    async stop() {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await exited;
      ctx.started.delete(child.pid);
    },
  };
}

const unified = (ctx, path, file) => readFileSync(join(ctx.system.hierarchies[0].mountPoint, path, file), 'utf8').trim();

export const v2HostCases = [
  {
    name: 'the host reads as v2: one unified hierarchy at /sys/fs/cgroup, one driver with every feature',
    async run(ctx) {
      const { system } = ctx;
      ctx.detail.mode = system.mode;
      ctx.detail.hierarchies = system.hierarchies;
      ctx.assert.equal(system.mode, 'v2', 'mode');
      ctx.assert.equal(
        system.hierarchies.map((h) => [h.version, h.mountPoint, h.root, h.controllers]),
        [[2, '/sys/fs/cgroup', '/', []]],
        'hierarchies',
      );
      ctx.assert.equal(system.drivers.map((d) => d.version), [2], 'drivers');
      ctx.detail.features = [...system.drivers[0].features].sort();
      ctx.assert.equal(ctx.detail.features, ALL_FEATURES, 'features');
    },
  },
  {
    name: 'a new cgroup under a managed parent gets cpu, cpuset, io, memory and pids',
    async run(ctx) {
      const path = `${ctx.parent}/delegated`;
      await ctx.system.create(path);
      try {
        const info = ctx.system.get(path);
        ctx.detail.controllers = info.controllers;
        ctx.detail.parentSubtreeControl = unified(ctx, ctx.parent, 'cgroup.subtree_control');
        for (const c of ['cpu', 'cpuset', 'io', 'memory', 'pids']) ctx.assert.ok(info.controllers.includes(c), `controller ${c}`);
        ctx.assert.equal(info.hierarchies, ['unified'], 'hierarchies');
        ctx.assert.ok(info.limits.memory && info.limits.cpu && info.limits.pids && info.limits.cpuset, 'every limit group');
      } finally {
        await ctx.system.delete(path);
      }
    },
  },
  {
    name: 'freeze and thaw go through cgroup.freeze, and cgroup.events agrees',
    async run(ctx) {
      const path = `${ctx.parent}/freeze-events`;
      await ctx.system.create(path);
      const p = await startSleep(ctx);
      try {
        await ctx.system.moveProcess(path, p.pid, { fromUnmanaged: true });
        ctx.assert.equal(await ctx.system.freeze(path), 'frozen', 'freeze()');
        ctx.assert.equal(unified(ctx, path, 'cgroup.freeze'), '1', 'cgroup.freeze');
        ctx.assert.ok(/^frozen 1$/m.test(unified(ctx, path, 'cgroup.events')), 'cgroup.events frozen 1');
        ctx.assert.equal(await ctx.system.thaw(path), 'thawed', 'thaw()');
        ctx.assert.ok(/^frozen 0$/m.test(unified(ctx, path, 'cgroup.events')), 'cgroup.events frozen 0');
      } finally {
        await p.stop();
        await ctx.system.delete(path);
      }
    },
  },
  {
    name: 'kill uses cgroup.kill: nothing left for nsgate to signal itself',
    async run(ctx) {
      const path = `${ctx.parent}/kill-v2`;
      await ctx.system.create(path);
      const p = await startSleep(ctx);
      try {
        await ctx.system.moveProcess(path, p.pid, { fromUnmanaged: true });
        const result = await ctx.system.kill(path);
        ctx.detail.kill = result;
        ctx.assert.equal([result.viaCgroupKill, result.signalled], [true, []], 'viaCgroupKill, signalled');
        ctx.assert.equal((await p.exited).signal, 'SIGKILL', 'exit signal');
        ctx.started.delete(p.pid);
      } finally {
        await p.stop();
        await ctx.system.delete(path);
      }
    },
  },
  {
    name: 'memory.high is writable on v2 and reads back page-rounded',
    async run(ctx) {
      const path = `${ctx.parent}/high`;
      await ctx.system.create(path);
      try {
        const u = await ctx.system.setLimits(path, { memory: { high: 8000000 } });
        ctx.detail.after = u.after.memory;
        ctx.assert.equal(u.after.memory?.high, 7999488, 'after.memory.high');
        ctx.assert.equal(unified(ctx, path, 'memory.high'), '7999488', 'memory.high file');
        const back = await ctx.system.setLimits(path, { memory: { high: 'max' } });
        ctx.assert.equal(back.after.memory?.high, null, 'memory.high back to max');
      } finally {
        await ctx.system.delete(path);
      }
    },
  },
];
