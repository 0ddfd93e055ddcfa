import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp, waitFor } from './support/app.js';
import { cgroupDir, cgroupHierarchies } from './support/cgroupfs.js';
import { makeTestCgroup, type TestCgroup } from './support/cgroups.js';
import { docker, dockerHost, removeContainer, runContainer, TEST_IMAGE } from './support/docker.js';

// Staged lowering ("strategy": "reclaim") on this host's kernel: cgroup v1 memory, no swap.
// Each workload joins its memory cgroup itself before it allocates, so what it holds is charged there.

const read = (file: string) => readFileSync(file, 'utf8').trim();
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(read(`/proc/${pid}/status`));
const MiB = 1024 * 1024;
const started: ChildProcess[] = [];

/** node, joined to `memDir` first, then holding `mib` MiB of anonymous memory; prints "ready"; exits when its stdin ends. */
function holdAnonymous(memDir: string, mib: number): Promise<ChildProcess> {
  const script = `require('fs').writeFileSync(${JSON.stringify(join(memDir, 'cgroup.procs'))}, String(process.pid));
globalThis.held = Buffer.alloc(${mib} * 1024 * 1024, 1);
process.stdout.write('ready\\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));`;
  return startReady([process.execPath, '-e', script], 'pipe');
}

/** sh, joined to `memDir`, writes `mib` MiB to `file` (page cache charged to the cgroup, flushed to disk), then sleeps. */
function fillCache(memDir: string, file: string, mib: number): Promise<ChildProcess> {
  const sh = `echo $$ > ${join(memDir, 'cgroup.procs')} && dd if=/dev/zero of=${file} bs=1M count=${mib} conv=fsync 2>/dev/null && echo ready && exec sleep 600`;
  return startReady(['/bin/sh', '-c', sh], 'ignore');
}

function startReady(argv: string[], stdin: 'pipe' | 'ignore'): Promise<ChildProcess> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: [stdin, 'pipe', 'inherit'] });
  started.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`workload exited (${code}) before it was ready`)));
  });
}

describe('lowering memory below usage in stages ("strategy": "reclaim"), cgroup v1', () => {
  let t: TestApp;
  let root: TestCgroup;
  const as = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
  const limitsUrl = (path: string) => `/v1/cgroups${path}/-/limits`;
  const memDir = (name: string) => join(root.dir('memory'), name);

  beforeAll(async () => {
    root = makeTestCgroup('reclaim');
    t = await startTestApp({ NSGATE_MANAGED_CGROUPS: root.path });
    for (const name of ['anon', 'cache', 'falls']) {
      expect((await t.http().put(`/v1/cgroups${root.path}/${name}`).set(as(t.tokens.operator)).send({})).status).toBe(200);
    }
  });
  afterAll(async () => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    await t?.close();
    root?.remove();
  });

  it('a process holding anonymous memory above the target lives, and the limit is not applied (409 with the numbers)', async () => {
    const dir = memDir('anon');
    const holder = await holdAnonymous(dir, 64);
    const limitBefore = read(`${dir}/memory.limit_in_bytes`);
    const softBefore = read(`${dir}/memory.soft_limit_in_bytes`);
    expect(Number(read(`${dir}/memory.usage_in_bytes`))).toBeGreaterThan(64 * MiB);

    // a dry run writes nothing and says the stages it would go through around the limit write
    const dry = await t.http().patch(`${limitsUrl(`${root.path}/anon`)}?dryRun=true`).set(as(t.tokens.operator)).send({ memory: { max: '32M' }, strategy: 'reclaim', timeoutMs: 1500 });
    expect(dry.status).toBe(200);
    expect(dry.body.dryRun).toBe(true);
    expect(dry.body.writes.map((w: { file: string; to: string }) => [w.file.split('/').at(-1), w.to])).toEqual([['memory.limit_in_bytes', String(32 * MiB)]]);
    expect(dry.body.stages.map((w: { file: string; to: string }) => [w.file.split('/').at(-1), w.to])).toEqual([
      ['memory.soft_limit_in_bytes', String(32 * MiB)],
      ['memory.soft_limit_in_bytes', softBefore],
    ]);
    expect(read(`${dir}/memory.limit_in_bytes`)).toBe(limitBefore);
    expect(read(`${dir}/memory.soft_limit_in_bytes`)).toBe(softBefore);

    const res = await t.http().patch(limitsUrl(`${root.path}/anon`)).set(as(t.tokens.operator)).send({ memory: { max: '32M' }, strategy: 'reclaim', timeoutMs: 1500 });
    expect([res.status, res.body.error?.code]).toEqual([409, 'LIMIT_BELOW_USAGE']);
    const d = res.body.error.details;
    expect(d).toMatchObject({ strategy: 'reclaim', requested: 32 * MiB, timeoutMs: 1500 });
    expect(d.usage).toBeGreaterThan(32 * MiB);
    expect(d.attempts).toBeGreaterThan(1);
    expect(d.tried).toContain(`memory.soft_limit_in_bytes ${32 * MiB}`);

    // nothing changed, nothing killed
    expect(read(`${dir}/memory.limit_in_bytes`)).toBe(limitBefore);
    expect(read(`${dir}/memory.soft_limit_in_bytes`)).toBe(softBefore);
    expect(alive(holder.pid!)).toBe(true);
    expect(read(`${dir}/memory.oom_control`)).toMatch(/oom_kill 0/);
    expect(read(`${dir}/cgroup.procs`).split('\n')).toContain(String(holder.pid));
  });

  it('a cache-heavy workload is lowered: the kernel gives back page cache, the process goes on', async () => {
    const dir = memDir('cache');
    const data = join(t.dataDir, 'cache-fill');
    const writer = await fillCache(dir, data, 96);
    expect(Number(read(`${dir}/memory.usage_in_bytes`))).toBeGreaterThan(64 * MiB);

    const res = await t.http().patch(limitsUrl(`${root.path}/cache`)).set(as(t.tokens.operator)).send({ memory: { max: '32M' }, strategy: 'reclaim' });
    expect(res.status).toBe(200);
    expect(res.body.after.memory.max).toBe(32 * MiB);
    expect(read(`${dir}/memory.limit_in_bytes`)).toBe(String(32 * MiB));
    expect(Number(read(`${dir}/memory.usage_in_bytes`))).toBeLessThanOrEqual(32 * MiB);
    expect(alive(writer.pid!)).toBe(true);
    expect(read(`${dir}/memory.oom_control`)).toMatch(/oom_kill 0/);
  });

  it('waits for usage to fall: the limit is set once the holder lets go, the soft limit is put back', async () => {
    const dir = memDir('falls');
    const holder = await holdAnonymous(dir, 64);
    const softBefore = read(`${dir}/memory.soft_limit_in_bytes`);
    // a plain change is refused at once: the kernel cannot reclaim anonymous memory without swap
    const plain = await t.http().patch(limitsUrl(`${root.path}/falls`)).set(as(t.tokens.operator)).send({ memory: { max: '32M' } });
    expect([plain.status, plain.body.error?.code]).toEqual([409, 'LIMIT_BELOW_USAGE']);

    const pending = t.http().patch(limitsUrl(`${root.path}/falls`)).set(as(t.tokens.operator)).send({ memory: { max: '32M' }, strategy: 'reclaim', timeoutMs: 60_000 });
    const answer = new Promise<{ status: number; body: Record<string, any> }>((resolve, reject) => pending.then(resolve, reject));
    // nsgate is in its staged wait once the throttle is on
    await waitFor(async () => read(`${dir}/memory.soft_limit_in_bytes`) === String(32 * MiB), 30_000, 20);
    holder.stdin!.end();
    const res = await answer;
    expect(res.status).toBe(200);
    expect(res.body.after.memory.max).toBe(32 * MiB);
    expect(read(`${dir}/memory.limit_in_bytes`)).toBe(String(32 * MiB));
    expect(read(`${dir}/memory.soft_limit_in_bytes`)).toBe(softBefore);
  });

  it('refuses what it cannot stage: force with reclaim, a timeout out of bounds; nothing is written', async () => {
    const dir = memDir('anon');
    const before = read(`${dir}/memory.limit_in_bytes`);
    const forced = await t.http().patch(limitsUrl(`${root.path}/anon`)).set(as(t.tokens.operator)).send({ memory: { max: '32M' }, strategy: 'reclaim', force: true });
    expect([forced.status, forced.body.error?.code]).toEqual([422, 'LIMIT_INVALID']);
    const long = await t.http().patch(limitsUrl(`${root.path}/anon`)).set(as(t.tokens.operator)).send({ memory: { max: '32M' }, strategy: 'reclaim', timeoutMs: 3_600_000 });
    expect(long.status).toBe(400);
    const other = await t.http().patch(limitsUrl(`${root.path}/anon`)).set(as(t.tokens.operator)).send({ memory: { max: '32M' }, strategy: 'oom' });
    expect(other.status).toBe(400);
    expect(read(`${dir}/memory.limit_in_bytes`)).toBe(before);
  });

  it('GraphQL takes the same strategy and timeout', async () => {
    const q = `mutation { setCgroupLimits(path: "${root.path}/anon", limits: { memory: { max: "32M" } }, strategy: "reclaim", timeoutMs: 300) { after { memory { max } } } }`;
    const res = await t.graphql(q, t.tokens.operator);
    expect(res.body.errors?.[0]?.extensions?.code).toBe('LIMIT_BELOW_USAGE');
  });
});

describe('a container lowered in stages, through the engine (docker inspect agrees)', () => {
  let t: TestApp;
  const made: string[] = [];
  const as = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
  const memFile = (id: string, file: string) => join(cgroupDir(cgroupHierarchies().find((h) => h.controllers.includes('memory'))!, `/docker/${id}`)!, file);
  const engineMemory = async (id: string) => Number(await docker(['inspect', '--format', '{{.HostConfig.Memory}}', id]));

  beforeAll(async () => {
    t = await startTestApp({ DOCKER_HOST: dockerHost() });
  });
  afterAll(async () => {
    for (const id of made) await removeContainer(id);
    await t?.close();
  });

  it('memory held in a tmpfs (no swap: nothing to reclaim) keeps its limit: 409, the container runs, the engine still says 256M', async () => {
    const c = await runContainer('tuning-hold', ['--memory', '256m', '--tmpfs', '/hold:size=128m', TEST_IMAGE, 'sh', '-c', 'dd if=/dev/zero of=/hold/f bs=1M count=64 2>/dev/null; echo ready; exec sleep 600']);
    made.push(c.id);
    await waitFor(async () => (await docker(['logs', c.id])).includes('ready'), 30_000);
    const res = await t.http().patch(`/v1/containers/${c.id}/limits`).set(as(t.tokens.operator)).send({ memory: '32M', strategy: 'reclaim', timeoutMs: 1000 });
    expect([res.status, res.body.error?.code]).toEqual([409, 'LIMIT_BELOW_USAGE']);
    expect(res.body.error.details.usage).toBeGreaterThan(32 * MiB);
    expect(await engineMemory(c.id)).toBe(256 * MiB);
    expect(read(memFile(c.id, 'memory.limit_in_bytes'))).toBe(String(256 * MiB));
    expect(read(memFile(c.id, 'memory.soft_limit_in_bytes'))).not.toBe(String(32 * MiB));
    expect(await docker(['inspect', '--format', '{{.State.Running}} {{.State.OOMKilled}}', c.id])).toBe('true false');
  });

  it('a container full of page cache is lowered, and the engine holds the new limit', async () => {
    const c = await runContainer('tuning-cache', ['--memory', '256m', TEST_IMAGE, 'sh', '-c', 'dd if=/dev/zero of=/fill bs=1M count=96 conv=fsync 2>/dev/null; echo ready; exec sleep 600']);
    made.push(c.id);
    await waitFor(async () => (await docker(['logs', c.id])).includes('ready'), 30_000);
    expect(Number(read(memFile(c.id, 'memory.usage_in_bytes')))).toBeGreaterThan(64 * MiB);
    const res = await t.http().patch(`/v1/containers/${c.id}/limits`).set(as(t.tokens.operator)).send({ memory: '32M', strategy: 'reclaim' });
    expect(res.status).toBe(200);
    expect(res.body.after.memory.max).toBe(32 * MiB);
    expect(res.body.engineAfter.memory).toBe(32 * MiB);
    expect(await engineMemory(c.id)).toBe(32 * MiB);
    expect(read(memFile(c.id, 'memory.limit_in_bytes'))).toBe(String(32 * MiB));
    expect(await docker(['inspect', '--format', '{{.State.Running}}', c.id])).toBe('true');
  });
});
