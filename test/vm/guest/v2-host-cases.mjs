// Driver cases that only make sense on a pure cgroup v2 host with every controller (the VM),
// next to the shared vocabulary cases of test/shared/cgroup-driver-cases.ts. Same context
// (CaseContext). Imports nothing from the repo, so the host can import it for the names.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ALL_FEATURES = ['cpu', 'cpuacct', 'cpuset', 'freezer', 'io', 'kill', 'memory', 'pids', 'pressure'];

/** ext2 (through ext4, which wants the crc32c hash to mount) on a loop device, in dependency order; the host ships them (test/vm/kernel-modules.ts). */
export const GUEST_MODULE_ORDER = ['crc16', 'crc32c_generic', 'mbcache', 'jbd2', 'ext4', 'loop'];
const MODULES_DIR = '/app/vm-tools/modules';

/**
 * A file on ext2 on a loop device (backed by a tmpfs image): the guest has no disk, and every
 * other file in it is RAM-backed (shmem), which the kernel cannot drop. Its page cache is
 * evicted after writing, so whoever reads it next is charged for it.
 */
function pageCacheFile(sizeMiB) {
  for (const m of GUEST_MODULE_ORDER) {
    try {
      execFileSync('insmod', [`${MODULES_DIR}/${m}.ko`], { stdio: 'pipe' });
    } catch (e) {
      if (!/exists/i.test(String(e.stderr))) throw new Error(`insmod ${m}: ${e.stderr}`);
    }
  }
  const image = '/tmp/nsgate-cache.img';
  const mnt = '/tmp/nsgate-cache';
  execFileSync('dd', ['if=/dev/zero', `of=${image}`, 'bs=1M', `count=${sizeMiB + 32}`], { stdio: 'pipe' });
  execFileSync('mke2fs', ['-F', image], { stdio: 'pipe' });
  mkdirSync(mnt, { recursive: true });
  execFileSync('mount', ['-t', 'ext4', '-o', 'loop', image, mnt], { stdio: 'pipe' });
  const file = `${mnt}/data`;
  execFileSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${sizeMiB}`], { stdio: 'pipe' });
  execFileSync('sync');
  writeFileSync('/proc/sys/vm/drop_caches', '1');
  return {
    file,
    remove() {
      execFileSync('umount', ['-d', mnt], { stdio: 'pipe' });
      rmSync(image, { force: true });
    },
  };
}

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
/** A raw write to a cgroup file, as an operator would do it by hand (never through the code under test). */
const rawWrite = (ctx, path, file, value) => writeFileSync(join(ctx.system.hierarchies[0].mountPoint, path, file), value);
const sleepMs = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, check, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const got = check();
    if (got) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleepMs(20);
  }
}

/** A shell that waits for a line on stdin before it runs `script` (so it can be moved into a cgroup first). */
async function startGated(ctx, script) {
  const child = spawn('/bin/sh', ['-c', `read go; ${script}`], { stdio: ['pipe', 'ignore', 'ignore'] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  ctx.started.add(child.pid);
  return {
    pid: child.pid,
    exited,
    go: () => child.stdin.write('go\n'),
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

async function codeOf(work) {
  try {
    await work();
    return { code: 'no error' };
  } catch (err) {
    return { code: err.code ?? String(err), message: err.message, details: err.details };
  }
}

const frozenNow = (ctx, path) => /^frozen 1$/m.test(unified(ctx, path, 'cgroup.events'));

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
  {
    name: 'exec into a process in its own cgroup namespace (nsdelegate): the command joins its cgroup and sees it as /; privileged runs too',
    async run(ctx) {
      const path = `${ctx.parent}/exec-target`;
      await ctx.system.create(path);
      // The target enters its own cgroup namespace once it sits in its cgroup: that cgroup is its "/".
      const target = await startGated(ctx, 'exec /app/vm-tools/unshare -C sleep 1000');
      const executor = new ctx.NamespaceExecutor({ cgroups: ctx.system, cgroupParent: `${ctx.parent}/exec` });
      try {
        await ctx.system.moveProcess(path, target.pid, { fromUnmanaged: true });
        target.go();
        const ownNs = readlinkSync('/proc/self/ns/cgroup');
        const targetNs = await until('the target in its own cgroup namespace', () => {
          const ns = readlinkSync(`/proc/${target.pid}/ns/cgroup`);
          return ns !== ownNs && ns;
        });
        ctx.detail.targetNs = targetNs;
        ctx.assert.equal(readFileSync(`/proc/${target.pid}/cgroup`, 'utf8').trim(), `0::${path}`, 'the target, seen from outside');
        const pin = executor.pin(target.pid);

        let outside = null;
        const confined = await executor.exec(
          pin,
          { argv: ['sh', '-c', 'cat /proc/self/cgroup; sleep 1'], namespaces: ['cgroup'], timeoutMs: 30_000 },
          {
            onStart: ({ commandPid }) => {
              try {
                outside = readFileSync(`/proc/${commandPid}/cgroup`, 'utf8').trim();
              } catch (e) {
                outside = `unreadable: ${e.code}`;
              }
            },
          },
        );
        ctx.detail.confined = { exitCode: confined.exitCode, stdout: confined.stdout, stderr: confined.stderr, namespaces: confined.namespaces, outside };
        ctx.assert.equal([confined.exitCode, confined.stderr], [0, ''], 'the confined command ran');
        ctx.assert.equal(confined.stdout, '0::/\n', 'the command sees its own cgroup as / (the target cgroup namespace)');
        ctx.assert.equal(outside, `0::${path}`, "the command is in the target's cgroup, seen from outside");
        ctx.assert.equal(`cgroup:[${confined.namespaces.cgroup}]`, targetNs, "the namespace it reports is the target's");

        const privileged = await executor.exec(pin, { argv: ['cat', '/proc/self/cgroup'], namespaces: ['cgroup'], privileged: true, timeoutMs: 30_000 });
        ctx.detail.privileged = { exitCode: privileged.exitCode, stdout: privileged.stdout, stderr: privileged.stderr, namespaces: privileged.namespaces };
        ctx.assert.equal([privileged.exitCode, privileged.stderr], [0, ''], 'the privileged command ran');
        // Its own per-exec cgroup lies beside the target's, outside the namespace root: seen as a path up and over.
        ctx.assert.ok(/^0::\/\.\.\/exec\/[^/]+\n$/.test(privileged.stdout), `privileged: its per-exec cgroup, relative to the target's namespace (${privileged.stdout})`);
        ctx.assert.equal(`cgroup:[${privileged.namespaces.cgroup}]`, targetNs, "privileged: the namespace it reports is the target's");
      } finally {
        await executor.close().catch(() => undefined);
        await target.stop();
      }
    },
  },
  {
    name: 'kill without cgroup.kill (kernels 5.2-5.13): a forking loop is frozen through cgroup.freeze, signalled, thawed, and gone',
    async run(ctx) {
      const path = `${ctx.parent}/kill-fallback`;
      const frozenAtSignal = [];
      // The 5.2-5.13 path on this 6.1 kernel: the driver is told it has no cgroup.kill.
      const system = ctx.systemWith([ctx.parent], {
        withoutFeatures: ['kill'],
        sendSignal: (pid, signal) => {
          frozenAtSignal.push([unified(ctx, path, 'cgroup.freeze'), frozenNow(ctx, path)]);
          process.kill(pid, signal);
        },
      });
      await system.create(path, { limits: { pids: { max: 64 } } });
      // Bounded: 40 sleepers, then a subshell forked again and again (at most 42 tasks; pids.max
      // 64, checked below before the loop starts). Never at the limit: busybox sh exits when a
      // fork fails, and the loop must still be forking when the kill comes.
      const loop = await startGated(ctx, 'i=0; while [ $i -lt 40 ]; do sleep 1000 & i=$((i+1)); done; while :; do ( : ); done');
      try {
        await system.moveProcess(path, loop.pid, { fromUnmanaged: true });
        ctx.assert.equal(unified(ctx, path, 'pids.max'), '64', 'pids.max before the loop starts');
        ctx.assert.ok(unified(ctx, path, 'cgroup.procs').split('\n').includes(String(loop.pid)), 'the loop is in the cgroup before it starts');
        loop.go();
        await until('the loop to fork', () => Number(unified(ctx, path, 'pids.current')) >= 41);
        const result = await system.kill(path, { timeoutMs: 10_000 });
        ctx.detail.kill = { viaCgroupKill: result.viaCgroupKill, signalled: result.signalled.length, frozenAtSignal };
        ctx.assert.equal(result.viaCgroupKill, false, 'no cgroup.kill');
        ctx.assert.ok(frozenAtSignal.length >= 41, `signalled each process (${frozenAtSignal.length})`);
        // A task that takes its SIGKILL leaves the frozen state to exit, so cgroup.events may say
        // frozen 0 after the first signal; the freeze is still asked for (cgroup.freeze 1) and
        // nothing else runs.
        ctx.assert.equal(frozenAtSignal[0], ['1', true], 'the first signal came once cgroup.events said frozen 1');
        ctx.assert.equal(frozenAtSignal.filter(([freeze]) => freeze !== '1').length, 0, 'every signal was sent with cgroup.freeze 1');
        ctx.assert.equal((await loop.exited).signal, 'SIGKILL', 'the loop was killed');
        ctx.started.delete(loop.pid);
        await until('the cgroup to empty', () => /^populated 0$/m.test(unified(ctx, path, 'cgroup.events')), 5000);
        ctx.assert.equal(unified(ctx, path, 'cgroup.procs'), '', 'cgroup.procs is empty');
        ctx.assert.equal([unified(ctx, path, 'cgroup.freeze'), frozenNow(ctx, path)], ['0', false], 'left thawed');
      } finally {
        await loop.stop();
      }
    },
  },
  {
    name: 'cgroup.type is reported; a thread root takes new children, threaded cgroups list their processes, domain invalid refuses clearly',
    async run(ctx) {
      const base = `${ctx.parent}/types`;
      await ctx.system.create(base);
      await ctx.system.create(`${base}/thr`);
      await ctx.system.create(`${base}/dom`);
      ctx.assert.equal(ctx.system.get(base).type, 'domain', 'a new cgroup is a domain');
      // Made by hand, as an operator would: a thread root may delegate only threaded controllers.
      rawWrite(ctx, base, 'cgroup.subtree_control', '-io -memory');
      rawWrite(ctx, `${base}/thr`, 'cgroup.type', 'threaded');
      const types = [base, `${base}/thr`, `${base}/dom`].map((p) => [ctx.system.get(p).type, unified(ctx, p, 'cgroup.type')]);
      ctx.detail.types = types;
      ctx.assert.equal(
        types,
        [
          ['domain threaded', 'domain threaded'],
          ['threaded', 'threaded'],
          ['domain invalid', 'domain invalid'],
        ],
        'type as cgroup.type says',
      );
      const p = await startSleep(ctx);
      try {
        await ctx.system.moveProcess(`${base}/thr`, p.pid, { fromUnmanaged: true });
        ctx.assert.equal(ctx.system.get(`${base}/thr`).processes, [p.pid], 'a threaded cgroup lists its processes (from cgroup.threads)');
        const r = await codeOf(() => ctx.system.moveProcess(`${base}/dom`, p.pid, { fromUnmanaged: true }));
        ctx.detail.domainInvalid = r;
        ctx.assert.equal([r.code, r.details?.cgroupType], ['CGROUP_BUSY', 'domain invalid'], 'moving into a domain invalid cgroup');
        ctx.assert.ok(/domain invalid/.test(r.message ?? ''), `the message says why: ${r.message}`);
        ctx.assert.equal(readFileSync(`/proc/${p.pid}/cgroup`, 'utf8').trim(), `0::${base}/thr`, 'the refused move left the process where it was');
        const later = await ctx.system.create(`${base}/later`);
        ctx.detail.later = { type: later.type, controllers: later.controllers };
        ctx.assert.equal(later.type, 'domain invalid', 'a domain child of a thread root');
        ctx.assert.equal(unified(ctx, base, 'cgroup.subtree_control').split(' ').sort(), ['cpu', 'cpuset', 'pids'], 'only threaded controllers enabled in the thread root');
      } finally {
        await p.stop();
      }
    },
  },
  {
    name: "cpuset: after shows what is in effect beside what was asked (a child asks 0-1 of a parent limited to 0)",
    async run(ctx) {
      const base = `${ctx.parent}/cpuset-effective`;
      await ctx.system.create(base, { limits: { cpuset: { cpus: '0' } } });
      await ctx.system.create(`${base}/child`);
      const { after } = await ctx.system.setLimits(`${base}/child`, { cpuset: { cpus: '0-1' } });
      ctx.detail.after = after.cpuset;
      ctx.assert.equal(
        after.cpuset,
        { cpus: '0-1', mems: '', effectiveCpus: unified(ctx, `${base}/child`, 'cpuset.cpus.effective'), effectiveMems: unified(ctx, `${base}/child`, 'cpuset.mems.effective') },
        'after.cpuset as the files say',
      );
      ctx.assert.equal(after.cpuset?.effectiveCpus, '0', 'the kernel clips the child to its parent');
      ctx.assert.equal(ctx.system.get(`${base}/child`).limits.cpuset, after.cpuset, 'the cgroup view says the same');
    },
  },
  {
    name: 'memory lowering on v2 below usage that is page cache (a file read through ext2 on a loop device) is no refusal',
    async run(ctx) {
      const path = `${ctx.parent}/below-cache`;
      await ctx.system.create(path, { limits: { memory: { max: '256M' } } });
      const cache = pageCacheFile(64);
      const reader = await startGated(ctx, `cat ${cache.file} > /dev/null; exec sleep 1000`);
      try {
        await ctx.system.moveProcess(path, reader.pid, { fromUnmanaged: true });
        reader.go();
        await until('the file in the cgroup page cache', () => (ctx.system.readStats(path).memory?.file ?? 0) >= 60 << 20, 30_000);
        const before = ctx.system.readStats(path).memory;
        ctx.detail.before = before;
        ctx.assert.ok(before.usage > 16 << 20 && before.inactiveFile >= 48 << 20 && before.anon < 8 << 20, 'mostly inactive page cache, little anon');
        const { after } = await ctx.system.setLimits(path, { memory: { max: '16M' } });
        ctx.assert.equal(after.memory?.max, 16 << 20, 'after.memory.max');
        ctx.assert.equal(unified(ctx, path, 'memory.max'), String(16 << 20), 'memory.max file');
        const now = ctx.system.readStats(path).memory;
        ctx.detail.after = now;
        ctx.assert.ok(now.usage <= 16 << 20, `the kernel reclaimed the cache (usage ${now.usage})`);
        ctx.assert.ok(/^oom_kill 0$/m.test(unified(ctx, path, 'memory.events')), 'nothing was OOM-killed');
        ctx.assert.ok(readFileSync(`/proc/${reader.pid}/stat`, 'utf8').length > 0, 'the reader lives on');
      } finally {
        await reader.stop();
        cache.remove();
      }
    },
  },
  {
    name: 'memory lowering on v2 compares with what cannot be reclaimed: anonymous memory above the limit is refused, and details say the basis',
    async run(ctx) {
      const path = `${ctx.parent}/below-anon`;
      await ctx.system.create(path, { limits: { memory: { max: '128M' } } });
      const holder = await startGated(ctx, `exec ${process.execPath} -e "globalThis.b=Buffer.alloc(24<<20,1);setInterval(()=>{},1e6)"`);
      try {
        await ctx.system.moveProcess(path, holder.pid, { fromUnmanaged: true });
        holder.go();
        await until('the holder to allocate', () => (ctx.system.readStats(path).memory?.anon ?? 0) >= 24 << 20, 20_000);
        const r = await codeOf(() => ctx.system.setLimits(path, { memory: { max: '16M' } }));
        ctx.detail.refusal = r;
        ctx.assert.equal(r.code, 'LIMIT_BELOW_USAGE', 'refused');
        ctx.assert.equal(r.details?.basis, 'memory.current - inactive_file', 'details.basis');
        ctx.assert.ok(r.details.unreclaimable >= 24 << 20 && r.details.unreclaimable <= r.details.usage, `details.unreclaimable ${r.details.unreclaimable}`);
        ctx.assert.equal(unified(ctx, path, 'memory.max'), String(128 << 20), 'the old limit stays');
      } finally {
        await holder.stop();
      }
    },
  },
];
