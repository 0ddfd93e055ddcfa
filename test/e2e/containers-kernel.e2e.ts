import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusOf } from '../../src/common/errors.js';
import { CpuSampler } from '../../src/kernel/containers/cpu-sampler.js';
import { groupProcessesByContainer, recogniseMemberships, type ProcessCgroups } from '../../src/kernel/containers/runtimes.js';
import {
  containerEvents,
  inspectContainer,
  listContainers,
  resolveContainer,
  updateContainerLimits,
  type ContainerEvent,
} from '../../src/kernel/docker/containers.js';
import { DockerEngine } from '../../src/kernel/docker/engine.js';
import { NsgateError } from '../../src/kernel/errors.js';
import { readProcessCgroups, readProcessStat } from '../../src/kernel/procfs/index.js';
import { cgroupDir, cgroupHierarchies } from './support/cgroupfs.js';
import { docker, dockerHost, dockerJson, removeContainer, runContainer, TEST_IMAGE, testLabels, testRunId, type TestContainer } from './support/docker.js';
import { refusal } from './support/errors.js';

/*
 * The kernel layer of the containers feature against the private engine: the tutorial's `db`
 * and `web` (web in db's network namespace), resolved, inspected, recognised by cgroup path,
 * limited through the engine (docker inspect and the cgroup file agree), followed by events;
 * and an engine that is missing or hangs gives ENGINE_UNAVAILABLE within the timeout.
 */

const made: string[] = [];
const log = (msg: string) => console.log(`[containers-kernel] ${msg}`);


/** The v1 memory hierarchy's limit file or v2's memory.max, for a cgroup path. */
function memoryLimitFile(path: string): string {
  const hierarchies = cgroupHierarchies();
  const v1 = hierarchies.find((h) => h.version === 1 && h.controllers.includes('memory'));
  if (v1) return join(cgroupDir(v1, path)!, 'memory.limit_in_bytes');
  const v2 = hierarchies.find((h) => h.version === 2)!;
  return join(cgroupDir(v2, path)!, 'memory.max');
}

function controllerFile(controller: string, path: string, file: string): string {
  const h = cgroupHierarchies().find((x) => x.version === 1 && x.controllers.includes(controller));
  if (!h) throw new Error(`no v1 ${controller} hierarchy`);
  return join(cgroupDir(h, path)!, file);
}

const readTrim = (file: string) => readFileSync(file, 'utf8').trim();

/** Every process's pid, ppid and cgroups, tolerating processes that exit meanwhile. */
function scanProcesses(): ProcessCgroups[] {
  const out: ProcessCgroups[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      out.push({ pid, ppid: readProcessStat(pid).ppid, cgroups: readProcessCgroups(pid) });
    } catch {
      // gone between readdir and read
    }
  }
  return out;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe('containers: the kernel layer against the private engine', () => {
  let engine: DockerEngine;
  let db: TestContainer;
  let web: TestContainer;

  beforeAll(async () => {
    engine = new DockerEngine(dockerHost(), 5000);
    db = await runContainer('db', ['-e', 'FOO=bar', '-e', 'SECRET_TOKEN=s3cret', TEST_IMAGE, 'sh', '-c', 'while true; do sleep 1; done']);
    made.push(db.id);
    web = await runContainer('web', [`--net=container:${db.name}`, TEST_IMAGE, 'sleep', '3600']);
    made.push(web.id);
  });

  afterAll(async () => {
    for (const id of made.reverse()) await removeContainer(id).catch((err) => console.warn(`could not remove ${id}: ${err}`));
  });

  it('lists db and web, running, with image, labels and their names', async () => {
    const all = await listContainers(engine);
    const mine = all.filter((c) => c.id === db.id || c.id === web.id);
    expect(mine).toHaveLength(2);
    const dbRow = mine.find((c) => c.id === db.id)!;
    expect(dbRow).toMatchObject({ name: db.name, names: [db.name], image: TEST_IMAGE, state: 'running' });
    expect(dbRow.labels).toMatchObject(testLabels());
    expect(dbRow.status).toMatch(/^Up/);
    expect(Date.parse(dbRow.createdAt)).toBeGreaterThan(Date.now() - 10 * 60_000);
    // running only, and by label
    const running = await listContainers(engine, { all: false, labels: [`nsgate.test.run=${testRunId()}`] });
    expect(running.map((c) => c.id)).toEqual(expect.arrayContaining([db.id, web.id]));
    expect(running.every((c) => c.state === 'running')).toBe(true);
  });

  it('resolves by name (with or without "/"), full id and id prefix', async () => {
    expect((await resolveContainer(engine, db.name)).id).toBe(db.id);
    expect((await resolveContainer(engine, `/${web.name}`)).id).toBe(web.id);
    expect((await resolveContainer(engine, db.id)).name).toBe(db.name);
    expect((await resolveContainer(engine, db.id.slice(0, 12))).id).toBe(db.id);
    expect((await resolveContainer(engine, web.id.slice(0, 12).toUpperCase())).id).toBe(web.id);
  });

  it('refuses a prefix under 4 hex digits and unknown names: CONTAINER_NOT_FOUND (404)', async () => {
    const short = await refusal(resolveContainer(engine, db.id.slice(0, 3)));
    expect(short.code).toBe('CONTAINER_NOT_FOUND');
    expect(short.details).toMatchObject({ hint: expect.stringMatching(/at least 4 hex digits/) });
    const unknown = await refusal(inspectContainer(engine, `no-such-container-${testRunId()}`));
    expect(unknown.code).toBe('CONTAINER_NOT_FOUND');
    expect(statusOf(unknown.code)).toBe(404);
  });

  it('an ambiguous prefix is CONTAINER_AMBIGUOUS (400) with the candidates', async () => {
    // Two of our containers whose ids share a first hex digit (17 ids must; usually 3 to 6 do).
    const ids = [db.id, web.id];
    const pair = () => {
      for (const a of ids) for (const b of ids) if (a !== b && a[0] === b[0]) return [a, b] as const;
      return undefined;
    };
    while (!pair()) {
      const labels = Object.entries(testLabels()).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
      const id = await docker(['create', '--network', 'none', ...labels, TEST_IMAGE, 'true']);
      made.push(id);
      ids.push(id);
      if (ids.length > 17) throw new Error('pigeonhole broke');
    }
    const [a, b] = pair()!;
    let common = 1;
    while (a[common] === b[common]) common++;
    const prefix = a.slice(0, common);
    const err = await refusal(resolveContainer(engine, prefix, { minPrefix: 1 }));
    expect(err.code).toBe('CONTAINER_AMBIGUOUS');
    expect(statusOf(err.code)).toBe(400);
    const candidates = (err.details!.candidates as { id: string }[]).map((c) => c.id);
    expect(candidates).toEqual(expect.arrayContaining([a, b]));
    expect(candidates.every((id) => id.startsWith(prefix))).toBe(true);
    log(`ambiguous prefix "${prefix}" (min prefix lowered to 1 for the test): ${candidates.length} candidates after ${ids.length - 2} extra container(s)`);
  });

  it('inspect gives State.Pid, whose /proc/PID/cgroup is /docker/<id>; the recogniser agrees', async () => {
    const info = await inspectContainer(engine, db.name);
    expect(info.Id).toBe(db.id);
    expect(info.State.Pid).toBe(db.pid);
    expect(info.Config.Env).toEqual(expect.arrayContaining(['FOO=bar', 'SECRET_TOKEN=s3cret']));
    const lines = readFileSync(`/proc/${info.State.Pid}/cgroup`, 'utf8').trim().split('\n');
    for (const line of lines) expect(line.split(':').slice(2).join(':')).toBe(`/docker/${db.id}`);
    expect(recogniseMemberships(readProcessCgroups(info.State.Pid))).toEqual({ runtime: 'docker', id: db.id, cgroupPath: `/docker/${db.id}` });

    const webInfo = await inspectContainer(engine, web.id.slice(0, 8));
    expect(webInfo.HostConfig.NetworkMode).toBe(`container:${db.id}`);
    expect(readlinkSync(`/proc/${webInfo.State.Pid}/ns/net`)).toBe(readlinkSync(`/proc/${db.pid}/ns/net`));
  });

  it('groups the host’s processes into containers; each init is the engine’s State.Pid, its parent the shim', async () => {
    const groups = groupProcessesByContainer(scanProcesses());
    const dbGroup = groups.find((g) => g.id === db.id);
    const webGroup = groups.find((g) => g.id === web.id);
    expect(dbGroup).toMatchObject({ runtime: 'docker', cgroupPath: `/docker/${db.id}`, initPid: db.pid });
    expect(webGroup).toMatchObject({ runtime: 'docker', initPid: web.pid, pids: [web.pid] });
    // db's shell runs a sleep child now and then: every pid of the group is in the container
    for (const pid of dbGroup!.pids) {
      try {
        expect(recogniseMemberships(readProcessCgroups(pid))?.id).toBe(db.id);
      } catch (err) {
        if (!(err instanceof NsgateError && err.code === 'PROCESS_NOT_FOUND')) throw err;
      }
    }
    const shim = readProcessStat(readProcessStat(db.pid).ppid);
    expect(shim.comm).toMatch(/^containerd-shim/);
    expect(recogniseMemberships(readProcessCgroups(shim.pid))).toBeNull();
  });

  it('measures inspect latency (by full id, and by name: a list plus an inspect)', async () => {
    const time = async (fn: () => Promise<unknown>) => {
      const t0 = performance.now();
      await fn();
      return performance.now() - t0;
    };
    const byId: number[] = [];
    const byName: number[] = [];
    for (let i = 0; i < 20; i++) {
      byId.push(await time(() => inspectContainer(engine, db.id)));
      byName.push(await time(() => inspectContainer(engine, db.name)));
    }
    log(`inspect by id: median ${median(byId).toFixed(1)} ms, max ${Math.max(...byId).toFixed(1)} ms; by name: median ${median(byName).toFixed(1)} ms, max ${Math.max(...byName).toFixed(1)} ms (20 each)`);
    expect(median(byId)).toBeLessThan(1000);
  });

  describe('limits through the engine', () => {
    const memFile = () => memoryLimitFile(`/docker/${db.id}`);
    const inspectedMemory = async () => Number(await docker(['inspect', '--format', '{{.HostConfig.Memory}}', db.id]));

    it('memory 8000000: docker inspect says 8000000, the memory cgroup file 7999488', async () => {
      const result = await updateContainerLimits(engine, db.name, { memory: 8_000_000 });
      expect(result).toMatchObject({ id: db.id, name: db.name, sent: { Memory: 8_000_000, MemorySwap: -1 } });
      expect(result.before.memory).toBeNull();
      expect(result.after.memory).toBe(8_000_000);
      expect(await inspectedMemory()).toBe(8_000_000);
      expect(readTrim(memFile())).toBe('7999488');
    });

    it('memory 1 MiB is LIMIT_INVALID (422) with Docker’s words, and nothing changed', async () => {
      const err = await refusal(updateContainerLimits(engine, db.id, { memory: 1 << 20 }));
      expect(err.code).toBe('LIMIT_INVALID');
      expect(statusOf(err.code)).toBe(422);
      expect(err.message).toMatch(/Minimum memory limit allowed is 6MB/);
      expect(await inspectedMemory()).toBe(8_000_000);
      expect(readTrim(memFile())).toBe('7999488');
    });

    it('memory+swap below memory is LIMIT_INVALID, and nothing changed', async () => {
      const err = await refusal(updateContainerLimits(engine, db.id, { memory: 16 << 20, memorySwap: 8 << 20 }));
      expect(err.code).toBe('LIMIT_INVALID');
      expect(err.message).toMatch(/memoryswap limit should be larger than memory limit/);
      expect(await inspectedMemory()).toBe(8_000_000);
      expect(readTrim(memFile())).toBe('7999488');
    });

    it('an engine refusal our checks leave to the engine (more cpus than it has) maps to LIMIT_INVALID with its message', async () => {
      const err = await refusal(updateContainerLimits(engine, db.id, { nanoCpus: 512 * 1e9 }));
      expect(err.code).toBe('LIMIT_INVALID');
      expect(err.message).toMatch(/Range of CPUs is from 0\.01 to/);
      expect(err.details).toMatchObject({ engineStatus: 400 });
    });

    it('memory+swap, cpus, cpu shares and pids land in docker inspect and the cgroup files', async () => {
      const result = await updateContainerLimits(engine, db.id, { memory: 16 << 20, memorySwap: 32 << 20, nanoCpus: 500_000_000, cpuShares: 512, pidsLimit: 64 });
      expect(result.after).toMatchObject({ memory: 16 << 20, memorySwap: 32 << 20, nanoCpus: 500_000_000, cpuShares: 512, pidsLimit: 64 });
      const [info] = await dockerJson<{ HostConfig: Record<string, number> }[]>(['inspect', db.id]);
      expect(info!.HostConfig).toMatchObject({ Memory: 16 << 20, MemorySwap: 32 << 20, NanoCpus: 500_000_000, CpuShares: 512, PidsLimit: 64 });
      const path = `/docker/${db.id}`;
      expect(readTrim(memFile())).toBe(String(16 << 20));
      expect(readTrim(controllerFile('memory', path, 'memory.memsw.limit_in_bytes'))).toBe(String(32 << 20));
      expect(readTrim(controllerFile('cpu', path, 'cpu.cfs_quota_us'))).toBe('50000');
      expect(readTrim(controllerFile('cpu', path, 'cpu.cfs_period_us'))).toBe('100000');
      expect(readTrim(controllerFile('cpu', path, 'cpu.shares'))).toBe('512');
      expect(readTrim(controllerFile('pids', path, 'pids.max'))).toBe('64');
      // pids unlimited again: the engine stores 0 and the kernel says max
      const unlimited = await updateContainerLimits(engine, db.id, { pidsLimit: -1 });
      expect(unlimited.after.pidsLimit).toBeNull();
      expect(readTrim(controllerFile('pids', path, 'pids.max'))).toBe('max');
    });

    it('a missing container is CONTAINER_NOT_FOUND', async () => {
      const err = await refusal(updateContainerLimits(engine, `gone-${testRunId()}`, { memory: 8_000_000 }));
      expect(err.code).toBe('CONTAINER_NOT_FOUND');
    });
  });

  it('cpu percent without waiting: a container held to half a cpu reads about 50 %', async () => {
    const burn = await runContainer('burn', ['--cpus', '0.5', TEST_IMAGE, 'sh', '-c', 'while :; do :; done']);
    made.push(burn.id);
    const usageFile = controllerFile('cpuacct', `/docker/${burn.id}`, 'cpuacct.usage');
    const sampler = new CpuSampler({
      intervalMs: 500,
      readUsageNs: (path) => (path === `/docker/${burn.id}` ? Number(readTrim(usageFile)) : null),
    });
    sampler.track(`/docker/${burn.id}`);
    sampler.start();
    try {
      await new Promise((r) => setTimeout(r, 1600));
      const t0 = performance.now();
      const reading = sampler.read(`/docker/${burn.id}`)!;
      const readMs = performance.now() - t0;
      expect(reading.percent).not.toBeNull();
      expect(reading.percent!).toBeGreaterThan(10);
      expect(reading.percent!).toBeLessThan(65);
      expect(reading.windowMs!).toBeGreaterThanOrEqual(250);
      expect(readMs).toBeLessThan(100);
      const t1 = performance.now();
      const dockerStats = await docker(['stats', '--no-stream', '--format', '{{.CPUPerc}}', burn.id]);
      const statsMs = performance.now() - t1;
      log(`cpu: sampler ${reading.percent!.toFixed(1)} % over ${reading.windowMs!.toFixed(0)} ms, read in ${readMs.toFixed(2)} ms; docker stats --no-stream ${dockerStats} in ${statsMs.toFixed(0)} ms`);
    } finally {
      sampler.stop();
      await removeContainer(burn.id);
    }
  });

  it('events: start, oom and die (with the exit code) of a container, then a quiet end on abort', async () => {
    const name = `oom-${testRunId()}`;
    const abort = new AbortController();
    const seen: ContainerEvent[] = [];
    const reader = (async () => {
      for await (const event of containerEvents(engine, { signal: abort.signal, labels: [`nsgate.test.run=${testRunId()}`] })) {
        if (event.name !== name) continue;
        seen.push(event);
        if (event.action === 'die') abort.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 300)); // the stream is open before the container starts
    const labels = Object.entries(testLabels()).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    // 30 MB into a shell variable under a 6 MiB limit (memory+swap 12 MiB): the kernel OOM-kills it
    const run = docker(['run', '--name', name, '--network', 'none', '--memory', '6m', ...labels, TEST_IMAGE, 'sh', '-c', 'x=$(head -c 30000000 /dev/zero | tr "\\0" a); echo survived']).catch(
      (err: Error) => err,
    );
    const timeout = setTimeout(() => abort.abort(), 30_000);
    await reader; // ends quietly when aborted
    clearTimeout(timeout);
    await run;
    const id = (await docker(['inspect', '--format', '{{.Id}}', name]).catch(() => '')) || seen[0]?.id;
    if (id) made.push(id);
    // one container can be OOM-killed more than once (each of its processes): one or more oom
    const actions = seen.map((e) => e.action);
    expect(actions[0]).toBe('start');
    expect(actions.at(-1)).toBe('die');
    expect(actions.slice(1, -1).length).toBeGreaterThanOrEqual(1);
    expect(new Set(actions.slice(1, -1))).toEqual(new Set(['oom']));
    const die = seen.at(-1)!;
    expect(die).toMatchObject({ id, name, image: TEST_IMAGE, exitCode: 137 });
    expect(seen[0]!.attributes).toMatchObject(testLabels());
    expect(Date.parse(seen[0]!.time)).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('an engine that is not there, or hangs', () => {
  let dir: string;
  let server: Server;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsgate-hang-'));
    server = createServer((socket) => {
      sockets.add(socket); // accept, read, never answer
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(join(dir, 'docker.sock'), resolve));
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('a socket path that does not exist: ENGINE_UNAVAILABLE (503) at once', async () => {
    const missing = new DockerEngine(`unix://${join(tmpdir(), 'nsgate-no-such-dir', 'docker.sock')}`, 1000);
    const t0 = performance.now();
    const err = await refusal(listContainers(missing));
    expect(err.code).toBe('ENGINE_UNAVAILABLE');
    expect(statusOf(err.code)).toBe(503);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect((await refusal(updateContainerLimits(missing, 'db', { memory: 8_000_000 }))).code).toBe('ENGINE_UNAVAILABLE');
    const events = containerEvents(missing);
    expect((await refusal(events.next())).code).toBe('ENGINE_UNAVAILABLE');
    expect((await missing.status()).status).toBe('unavailable');
  });

  it('a socket that accepts and never answers: ENGINE_UNAVAILABLE within the timeout', async () => {
    const hung = new DockerEngine(`unix://${join(dir, 'docker.sock')}`, 800);
    for (const [what, call] of [
      ['list', () => listContainers(hung)],
      ['resolve', () => resolveContainer(hung, 'db')],
      ['inspect by id', () => inspectContainer(hung, 'a'.repeat(64))],
    ] as const) {
      const t0 = performance.now();
      const err = await refusal(call());
      const ms = performance.now() - t0;
      expect(err.code, what).toBe('ENGINE_UNAVAILABLE');
      expect(ms, what).toBeGreaterThanOrEqual(700);
      expect(ms, what).toBeLessThan(3000);
      log(`hung engine, ${what}: ENGINE_UNAVAILABLE after ${ms.toFixed(0)} ms (timeout 800 ms)`);
    }
    const t0 = performance.now();
    const err = await refusal(containerEvents(hung, { connectTimeoutMs: 800 }).next());
    expect(err.code).toBe('ENGINE_UNAVAILABLE');
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('an abort before the engine answers ends the events iteration quietly', async () => {
    const hung = new DockerEngine(`unix://${join(dir, 'docker.sock')}`, 800);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 200);
    const t0 = performance.now();
    const result = await containerEvents(hung, { signal: abort.signal, connectTimeoutMs: 10_000 }).next();
    expect(result.done).toBe(true);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

// The engine under test is the private one, never the default socket.
it('talks to the private engine only', () => {
  expect(dockerHost()).toBe('unix:///run/nsgate-test/docker.sock');
  expect(execFileSync('docker', ['-H', dockerHost(), 'info', '--format', '{{.DockerRootDir}}'], { encoding: 'utf8' }).trim()).toBe('/var/lib/nsgate-test/docker');
});
