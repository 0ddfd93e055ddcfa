// Pressure triggers on this host's kernel: the unified tree of the hybrid layout has PSI per
// cgroup and takes the kernel's own triggers (armed through the nsgate-psi helper, waited for
// with POLLPRI). Two cpu burners (shell loops this test starts) in their own test cgroup, held to
// one cpu by its cpuset, always have one of them waiting for that cpu, however idle the machine
// is: a cpu "some" trigger fires, a pressure.threshold event.
// A memory hog under a tight (v1) memory limit fires a memory trigger likewise. A window the
// kernel refuses (1 s, without CAP_SYS_RESOURCE) falls back to polling and says so.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { firstValueFrom, filter, take, toArray, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventsService } from '../../src/events/events.service.js';
import { MAX_TRIGGERS_PER_CALLER } from '../../src/events/pressure.service.js';
import { startTestApp, type TestApp } from './support/app.js';
import { cgroupParent, makeTestCgroup, type TestCgroup } from './support/cgroups.js';

/** CAP_SYS_RESOURCE (bit 24) in our effective set: the kernel then takes any window. */
function hasSysResource(): boolean {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;
  return (BigInt(`0x${hex}`) & (1n << 24n)) !== 0n;
}

describe('pressure triggers', () => {
  let t: TestApp;
  let group: TestCgroup;
  let burners: ChildProcess[] = [];
  const as = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    group = makeTestCgroup('pressure');
    t = await startTestApp({ NSGATE_MANAGED_CGROUPS: cgroupParent() });
    const pinned = await t.http().patch(`/v1/cgroups${group.path}/-/limits`).set(as(t.tokens.operator)).send({ cpuset: { cpus: '0' } });
    expect(pinned.status).toBe(200);
    burners = [0, 1].map(() => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
    for (const burner of burners) {
      const moved = await t.http().post(`/v1/cgroups${group.path}/-/processes`).set(as(t.tokens.admin)).send({ pid: burner.pid });
      expect(moved.status).toBe(200);
    }
  });

  afterAll(async () => {
    for (const burner of burners) if (burner.pid !== undefined && burner.exitCode === null) process.kill(burner.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    await t?.close();
    group?.remove();
  });

  it("arms the kernel's trigger, and a stalled cgroup fires pressure.threshold events", async () => {
    const bus = t.app.get(EventsService).bus;
    const events = firstValueFrom(bus.stream({ types: new Set(['pressure.threshold']), target: `cgroup:${group.path}` }).pipe(take(1), timeout(30_000)));
    const res = await t.http().post('/v1/pressure-triggers').set(as(t.tokens.operator)).send({ cgroup: group.path, resource: 'cpu', kind: 'some', stallUs: 20_000, windowUs: 2_000_000 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ target: `cgroup:${group.path}`, cgroupPath: group.path, resource: 'cpu', kind: 'some', mode: 'kernel', modeReason: null, owner: 'ops' });
    const event = await events;
    expect(event).toMatchObject({ type: 'pressure.threshold', target: `cgroup:${group.path}`, data: { trigger: res.body.id, resource: 'cpu', kind: 'some', mode: 'kernel' } });
    const one = await t.http().get(`/v1/pressure-triggers/${res.body.id}`).set(as(t.tokens.viewer));
    expect(one.body.fired).toBeGreaterThanOrEqual(1);
    const under = await t.http().get(`/v1/cgroups${group.path}/-/pressure-triggers`).set(as(t.tokens.viewer));
    expect(under.body.items.map((x: { id: number }) => x.id)).toContain(res.body.id);
    expect((await t.http().delete(`/v1/pressure-triggers/${res.body.id}`).set(as(t.tokens.operator))).status).toBe(200);
    expect((await t.http().get(`/v1/pressure-triggers/${res.body.id}`).set(as(t.tokens.viewer))).status).toBe(404);
  });

  it('polls where the kernel refuses the trigger, says why, and still fires', async () => {
    const bus = t.app.get(EventsService).bus;
    const res = await t.http().post('/v1/pressure-triggers').set(as(t.tokens.operator)).send({ cgroup: group.path, resource: 'cpu', kind: 'some', stallUs: 20_000, windowUs: 1_000_000 });
    expect(res.status).toBe(201);
    if (hasSysResource()) {
      expect(res.body.mode).toBe('kernel');
    } else {
      expect(res.body.mode).toBe('polling');
      expect(res.body.modeReason).toMatch(/EINVAL.*multiples of 2 s/);
    }
    const event = await firstValueFrom(bus.stream({ types: new Set(['pressure.threshold']), target: `cgroup:${group.path}` }).pipe(filter((e) => e.data.trigger === res.body.id), take(1), timeout(30_000)));
    expect(event.data.mode).toBe(res.body.mode);
    await t.http().delete(`/v1/pressure-triggers/${res.body.id}`).set(as(t.tokens.operator));
  });

  it('a memory hog thrashing its page cache under a tight v1 limit fires a memory trigger (PSI of the unified tree)', async () => {
    const hog = makeTestCgroup('pressure-hog');
    const dir = mkdtempSync('/var/tmp/nsgate-e2e-hog-');
    let child: ChildProcess | undefined;
    try {
      const limited = await t.http().patch(`/v1/cgroups${hog.path}/-/limits`).set(as(t.tokens.operator)).send({ memory: { max: '16M' } });
      expect(limited.status).toBe(200);
      const res = await t.http().post('/v1/pressure-triggers').set(as(t.tokens.operator)).send({ cgroup: hog.path, resource: 'memory', kind: 'some', stallUs: 20_000, windowUs: 2_000_000 });
      expect(res.body).toMatchObject({ resource: 'memory', mode: 'kernel' });
      const fired = firstValueFrom(
        t.app.get(EventsService).bus.stream({ types: new Set(['pressure.threshold']), target: `cgroup:${hog.path}` }).pipe(filter((e) => e.data.trigger === res.body.id), take(1), timeout(60_000)),
      );
      // writes 48 MiB into its own page cache (charged to the 16 MiB cgroup), then reads it back
      // over and over: every read refaults pages the limit just evicted, which PSI counts as a
      // memory stall. Bounded: 30 reads, killed at the end of the test.
      const file = join(dir, 'hog.bin');
      const script = `echo $$ > ${hog.dir('memory')}/cgroup.procs && echo $$ > ${hog.dir('unified')}/cgroup.procs && head -c 48M /dev/urandom > ${file} && i=0; while [ $i -lt 30 ]; do cat ${file} > /dev/null; i=$((i+1)); done`;
      child = spawn('sh', ['-c', script], { stdio: 'ignore' });
      const event = await fired;
      expect(event.data).toMatchObject({ resource: 'memory', kind: 'some', mode: 'kernel' });
      await t.http().delete(`/v1/pressure-triggers/${res.body.id}`).set(as(t.tokens.operator));
    } finally {
      if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      rmSync(dir, { recursive: true, force: true });
      hog.remove();
    }
  });

  it('checks who may, what, and how many', async () => {
    const body = { cgroup: group.path, resource: 'memory', kind: 'full', stallUs: 100_000, windowUs: 2_000_000 };
    expect((await t.http().post('/v1/pressure-triggers').set(as(t.tokens.viewer)).send(body)).status).toBe(403);
    expect((await t.http().post('/v1/pressure-triggers').set(as(t.tokens.operator)).send({ ...body, windowUs: 100 })).body.error.code).toBe('VALIDATION_FAILED');
    expect((await t.http().post('/v1/pressure-triggers').set(as(t.tokens.operator)).send({ ...body, cgroup: `${group.path}-none` })).body.error.code).toBe('CGROUP_NOT_FOUND');
    expect((await t.http().post('/v1/pressure-triggers').set(as(t.tokens.operator)).send({ ...body, cgroup: undefined })).body.error.code).toBe('VALIDATION_FAILED');
    const ids: number[] = [];
    try {
      for (let i = 0; i < MAX_TRIGGERS_PER_CALLER; i++) {
        const r = await t.http().post('/v1/pressure-triggers').set(as(t.tokens.operator)).send(body);
        expect(r.status).toBe(201);
        ids.push(r.body.id);
      }
      const over = await t.http().post('/v1/pressure-triggers').set(as(t.tokens.operator)).send(body);
      expect(over.status).toBe(429);
      expect(over.body.error.code).toBe('RATE_LIMITED');
      // another caller still may
      const admin = await t.http().post('/v1/pressure-triggers').set(as(t.tokens.admin)).send(body);
      expect(admin.status).toBe(201);
      ids.push(admin.body.id);
      // GraphQL sees the same
      const q = await t.graphql('{ pressureTriggers { id mode owner } }', t.tokens.viewer);
      expect((q.body.data!.pressureTriggers as { id: number }[]).map((x) => x.id).sort()).toEqual([...ids].sort());
    } finally {
      for (const id of ids) await t.http().delete(`/v1/pressure-triggers/${id}`).set(as(t.tokens.admin));
    }
    expect((await t.http().get('/v1/pressure-triggers').set(as(t.tokens.viewer))).body.items).toEqual([]);
  });
});
