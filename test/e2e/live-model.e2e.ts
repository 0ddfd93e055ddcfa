// The live container model against the private engine: containers changed behind nsgate's
// back (with the docker CLI) are right on the next read once the engine's event arrives; with
// events lost, the periodic list heals the model; a pid that no longer has the start time the
// model took is never served as the container's; and no read route calls the engine.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ContainerIndex } from '../../src/containers/container-index.js';
import { EngineEvents } from '../../src/engine/engine-events.js';
import { LiveContainers } from '../../src/kernel/containers/live-model.js';
import type { ContainerInspect } from '../../src/kernel/docker/containers.js';
import { DockerEngine } from '../../src/kernel/docker/engine.js';
import { startTestApp, type TestApp, waitFor } from './support/app.js';
import { docker, removeContainer, runContainer, TEST_IMAGE, type TestContainer, testRunId } from './support/docker.js';

/** Events arrive within a second or so here; 10 s bounds a slow, loaded machine. */
const EVENT_BOUND_MS = 10_000;

function memoryLimitOnDisk(id: string): number {
  const line = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => / - cgroup /.test(l) && /[ ,]memory(,|$)/.test(l.split(' - ')[1]!.split(' ')[2] ?? ''));
  const mount = line!.split(' ')[4]!;
  return Number(readFileSync(`${mount}/docker/${id}/memory.limit_in_bytes`, 'utf8').trim());
}

describe('the live container model, on events', () => {
  let t: TestApp;
  const made: string[] = [];
  const get = (url: string) => t.http().get(url).set('authorization', `Bearer ${t.tokens.viewer}`);
  const run = async (name: string): Promise<TestContainer> => {
    const c = await runContainer(name, [TEST_IMAGE, 'sleep', '600']);
    made.push(c.id);
    return c;
  };

  beforeAll(async () => {
    // a long period: what shows here came from events, not from the periodic list
    t = await startTestApp({ NSGATE_CONTAINER_RECONCILE_MS: '600000' });
    await t.app.get(ContainerIndex).model.ready();
  });
  afterAll(async () => {
    await t?.close();
    for (const id of made) await removeContainer(id);
  });

  it('shows a container started behind its back, with its init pid', async () => {
    const c = await run('lm-start');
    await waitFor(async () => (await get(`/v1/containers/${c.name}`)).status === 200, EVENT_BOUND_MS);
    const res = await get(`/v1/containers/${c.name}`);
    expect(res.body).toMatchObject({ id: c.id, state: 'running', pid: c.pid, cgroupPath: `/docker/${c.id}`, stale: false });
    expect((await get('/v1/containers')).body.items.map((x: { id: string }) => x.id)).toContain(c.id);
  });

  it('shows `docker update --memory` at once: limits are read from the kernel, never kept', async () => {
    const c = await run('lm-update');
    await waitFor(async () => (await get(`/v1/containers/${c.id}`)).status === 200, EVENT_BOUND_MS);
    await docker(['update', '--memory', '48m', '--memory-swap', '-1', c.id]);
    const res = await get(`/v1/containers/${c.id}`);
    expect(res.body.limits.memory.max).toBe(48 * 1024 * 1024);
    expect(res.body.limits.memory.max).toBe(memoryLimitOnDisk(c.id));
    const stats = await get(`/v1/containers/${c.id}/stats`);
    expect(stats.body.memory.limit).toBe(48 * 1024 * 1024);
  });

  it('follows a rename: the new name resolves, the old one is 404', async () => {
    const c = await run('lm-rename');
    await waitFor(async () => (await get(`/v1/containers/${c.name}`)).status === 200, EVENT_BOUND_MS);
    const renamed = `lm-renamed-${testRunId()}`;
    await docker(['rename', c.name, renamed]);
    await waitFor(async () => (await get(`/v1/containers/${renamed}`)).status === 200, EVENT_BOUND_MS);
    expect((await get(`/v1/containers/${renamed}`)).body).toMatchObject({ id: c.id, name: renamed });
    expect((await get(`/v1/containers/${c.name}`)).status).toBe(404);
  });

  it('shows a container killed behind its back as not running, then one removed as gone', async () => {
    const c = await run('lm-kill');
    await waitFor(async () => (await get(`/v1/containers/${c.id}`)).body.state === 'running', EVENT_BOUND_MS);
    await docker(['kill', c.id]);
    await docker(['wait', c.id]);
    // the dead pid is never served, whether or not the die event has been applied yet
    const right = await get(`/v1/containers/${c.id}`);
    expect(right.body.pid).toBeNull();
    expect(right.body.state).not.toBe('running');
    await waitFor(async () => (await get(`/v1/containers/${c.id}`)).body.state === 'exited', EVENT_BOUND_MS);
    expect((await get(`/v1/containers/${c.id}/stats`)).status).toBe(409);
    await docker(['rm', c.id]);
    await waitFor(async () => (await get(`/v1/containers/${c.id}`)).status === 404, EVENT_BOUND_MS);
    expect((await get('/v1/containers')).body.items.map((x: { id: string }) => x.id)).not.toContain(c.id);
  });

  it('keeps name resolution as it was: full id, name with or without /, unique prefix, ambiguity 400 with candidates', async () => {
    const c = await run('lm-names');
    await waitFor(async () => (await get(`/v1/containers/${c.id}`)).status === 200, EVENT_BOUND_MS);
    for (const ref of [c.id, c.name, `%2F${c.name}`, c.id.slice(0, 12), c.id.slice(0, 4)]) {
      const res = await get(`/v1/containers/${ref}`);
      // a 4-digit prefix may be shared with another container on this engine: then it is the 400
      if (res.status === 400) {
        expect(res.body.error.code).toBe('CONTAINER_AMBIGUOUS');
        expect(res.body.error.details.candidates.map((x: { id: string }) => x.id)).toContain(c.id);
      } else expect([ref, res.status, res.body.id]).toEqual([ref, 200, c.id]);
    }
    expect((await get(`/v1/containers/${c.id.slice(0, 3)}`)).status).toBe(404);
    // two ids with a common prefix: find one among everything the engine has
    const ids = ((await get('/v1/containers?limit=5000')).body.items as { id: string }[]).map((x) => x.id);
    let prefix: string | undefined;
    for (const a of ids) for (const b of ids) if (a !== b && a.slice(0, 4) === b.slice(0, 4)) prefix = a.slice(0, 4);
    if (prefix) {
      const res = await get(`/v1/containers/${prefix}`);
      expect([res.status, res.body.error.code]).toEqual([400, 'CONTAINER_AMBIGUOUS']);
    }
  });

  describe('reads never call the engine', () => {
    let spy: ReturnType<typeof vi.spyOn> | undefined;
    afterEach(() => {
      spy?.mockRestore();
      t.app.get(EngineEvents).setDelivering(true);
    });

    it('list, one, top, stats, security and the GraphQL equivalents are answered without one engine call', async () => {
      const c = await run('lm-noengine');
      await waitFor(async () => (await get(`/v1/containers/${c.id}`)).body.state === 'running', EVENT_BOUND_MS);
      // other people's containers on this engine send events too: stop the inspects they would cause
      t.app.get(EngineEvents).setDelivering(false);
      const engine = t.app.get(DockerEngine);
      spy = vi.spyOn(engine, 'call');
      for (const url of ['/v1/containers', '/v1/containers?stats=true', `/v1/containers/${c.name}`, `/v1/containers/${c.name}/top`, `/v1/containers/${c.name}/stats`, `/v1/containers/${c.name}/security`]) {
        expect([url, (await get(url)).status]).toEqual([url, 200]);
      }
      const gql = await t.graphql(
        `{ containers { items { id processes { pid } stats { pids { current } } top { id } security { containerId } } } container(id: "${c.name}") { id pid sharesWith { id } } }`,
        t.tokens.viewer,
      );
      expect(gql.body.errors).toBeUndefined();
      expect((gql.body.data!.container as { pid: number }).pid).toBe(c.pid);
      expect(spy).not.toHaveBeenCalled();
    });
  });
});

describe('the live container model, with the event stream lost', () => {
  let t: TestApp;
  const made: string[] = [];
  const get = (url: string) => t.http().get(url).set('authorization', `Bearer ${t.tokens.viewer}`);
  let index: ContainerIndex;

  beforeAll(async () => {
    t = await startTestApp({ NSGATE_CONTAINER_RECONCILE_MS: '1500' });
    index = t.app.get(ContainerIndex);
    await index.model.ready();
  });
  afterAll(async () => {
    t?.app.get(EngineEvents).setDelivering(true);
    await t?.close();
    for (const id of made) await removeContainer(id);
  });

  it('heals by the periodic list: started, renamed and removed containers are right within a few periods', async () => {
    const stays = await runContainer('lm-lost-rename', [TEST_IMAGE, 'sleep', '600']);
    const goes = await runContainer('lm-lost-remove', [TEST_IMAGE, 'sleep', '600']);
    made.push(stays.id, goes.id);
    await waitFor(async () => (await get(`/v1/containers/${goes.id}`)).status === 200 && (await get(`/v1/containers/${stays.id}`)).status === 200, EVENT_BOUND_MS);

    t.app.get(EngineEvents).setDelivering(false);
    const cutAt = Date.now();
    const started = await runContainer('lm-lost-start', [TEST_IMAGE, 'sleep', '600']);
    made.push(started.id);
    const renamed = `lm-lost-renamed-${testRunId()}`;
    await docker(['rename', stays.name, renamed]);
    await docker(['rm', '-f', goes.id]);

    // bounded by a few reconcile periods (1.5 s each), not by any event
    await waitFor(
      async () =>
        (await get(`/v1/containers/${started.id}`)).body.pid === started.pid &&
        (await get(`/v1/containers/${renamed}`)).body.id === stays.id &&
        (await get(`/v1/containers/${goes.id}`)).status === 404,
      EVENT_BOUND_MS,
    );
    // and it was the list that did it: one ran after the cut
    expect(Date.parse(index.status().lastReconcileAt!)).toBeGreaterThan(cutAt);
    expect(index.status().reconcileMs).toBe(1500);
  });

  it('never serves a pid whose process died, even before any event or list says so', async () => {
    const c = await runContainer('lm-lost-kill', [TEST_IMAGE, 'sleep', '600']);
    made.push(c.id);
    await waitFor(async () => (await get(`/v1/containers/${c.id}`)).body.pid === c.pid, EVENT_BOUND_MS);
    t.app.get(EngineEvents).setDelivering(false);
    index.model.stop(); // no periodic list either: only the start-time check stands between the model and a dead pid
    await docker(['kill', c.id]);
    await docker(['wait', c.id]);
    const res = await get(`/v1/containers/${c.id}`);
    expect(res.body.pid).toBeNull();
    expect(res.body.state).toBe('exited');
    expect((await get(`/v1/containers/${c.id}/stats`)).status).toBe(409);
  });
});

describe('a recycled pid is never served as the container\'s', () => {
  // The kernel will not hand a chosen pid to a new process on demand, so the pid number is kept
  // and the process behind it changes: a proc root whose <pid>/stat is first a real process's,
  // then another real process's, started later (as /proc/<pid>/stat reads when the pid is reused).
  // Its cgroup file names the container, as a reused pid's could (a process forked inside it).
  let dir: string;
  const children: ChildProcess[] = [];
  const FAKE_PID = 4_000_000 - 7;
  const id = 'ab'.repeat(32);

  const spawnSleep = async (): Promise<ChildProcess> => {
    const child = spawn('sleep', ['600'], { stdio: 'ignore' });
    children.push(child);
    await new Promise((r) => child.once('spawn', r));
    return child;
  };
  const pointAt = (pid: number) => {
    const fake = join(dir, String(FAKE_PID));
    rmSync(join(fake, 'stat'), { force: true });
    rmSync(join(fake, 'ns'), { force: true });
    symlinkSync(`/proc/${pid}/stat`, join(fake, 'stat'));
    symlinkSync(`/proc/${pid}/ns`, join(fake, 'ns'));
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsgate-proc-'));
    symlinkSync('/proc/1', join(dir, '1'));
    symlinkSync(`/proc/${process.pid}`, join(dir, String(process.pid)));
    mkdirSync(join(dir, String(FAKE_PID)));
    writeFileSync(join(dir, String(FAKE_PID), 'cgroup'), `12:memory:/docker/${id}\n0::/docker/${id}\n`);
  });
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes the start time with the pid, and serves the container as not running once the pid is another process', async () => {
    const first = await spawnSleep();
    pointAt(first.pid!);
    const info = { Id: id, Name: '/recycled', Config: { Image: 'x', Env: [] }, State: { Status: 'running', Running: true, Pid: FAKE_PID }, HostConfig: {}, Mounts: [] } as unknown as ContainerInspect;
    const model = new LiveContainers({
      procRoot: dir,
      reconcileMs: 600_000,
      source: { list: async () => [{ id, name: 'recycled', state: 'running' }], inspect: async () => info },
    });
    await model.start();
    model.stop();
    const taken = model.resolve('recycled');
    expect(taken).toMatchObject({ pid: FAKE_PID, cgroupPath: `/docker/${id}` });
    expect(taken.startTimeTicks).toBeGreaterThan(0);

    // the process dies; the pid goes to another process, started at least a clock tick later
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    await new Promise((r) => setTimeout(r, 50));
    const second = await spawnSleep();
    pointAt(second.pid!);
    expect(Number(readFileSync(join(dir, String(FAKE_PID), 'stat'), 'utf8').split(') ')[1]!.split(' ')[19])).not.toBe(taken.startTimeTicks);
    const served = model.resolve('recycled');
    expect(served.pid).toBeNull();
    expect(served.state).toBe('exited');
    expect(model.entries().find((c) => c.id === id)!.pid).toBeNull();
  });
});
