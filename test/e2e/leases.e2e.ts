import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventsService } from '../../src/events/events.service.js';
import { startTestApp, type TestApp, waitFor } from './support/app.js';
import { makeTestCgroup, type TestCgroup } from './support/cgroups.js';
import { docker, dockerHost, removeContainer, runContainer, TEST_IMAGE } from './support/docker.js';
import { type RunningService, startService } from './support/service.js';

// Leases (ttlSeconds on a limit change) on this host's kernel and the private engine: expiry puts
// the before values back, a later change voids, DELETE keeps, and a lease acknowledged before a
// SIGKILL of the built service expires after it starts again on the same state folder.

const read = (file: string) => readFileSync(file, 'utf8').trim();
const MiB = 1024 * 1024;
const as = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('leases on cgroup and container limits', () => {
  let t: TestApp;
  let root: TestCgroup;
  const made: string[] = [];
  const pidsFile = (name: string) => `${root.dir('pids')}/${name}/pids.max`;
  const memFile = (name: string) => `${root.dir('memory')}/${name}/memory.limit_in_bytes`;
  const patch = (name: string, body: unknown, token = t.tokens.operator) => t.http().patch(`/v1/cgroups${root.path}/${name}/-/limits`).set(as(token)).send(body as object);
  const leases = async () => (await t.http().get('/v1/leases').set(as(t.tokens.viewer))).body.items as { id: string; target: string; fields: string[] }[];
  const audit = async (action: string) => (await t.http().get(`/v1/audit?action=${action}`).set(as(t.tokens.admin))).body.items as Record<string, any>[];

  beforeAll(async () => {
    root = makeTestCgroup('leases');
    t = await startTestApp({ NSGATE_MANAGED_CGROUPS: root.path, DOCKER_HOST: dockerHost() });
    for (const name of ['expire', 'void', 'keep', 'hand']) {
      expect((await t.http().put(`/v1/cgroups${root.path}/${name}`).set(as(t.tokens.operator)).send({ limits: { pids: { max: 64 } } })).status).toBe(200);
    }
  });
  afterAll(async () => {
    for (const id of made) await removeContainer(id);
    await t?.close();
    root?.remove();
  });

  it('expiry puts the before values back in the kernel, audited and published', async () => {
    const res = await patch('expire', { pids: { max: 100 }, memory: { max: '64M' }, ttlSeconds: 1 });
    expect(res.status).toBe(200);
    expect(res.body.lease).toMatchObject({ fields: ['memory.max', 'pids.max'] });
    expect(read(pidsFile('expire'))).toBe('100');
    const listed = (await leases()).find((l) => l.id === res.body.lease.id);
    expect(listed).toMatchObject({ target: `cgroup:${root.path}/expire`, fields: ['memory.max', 'pids.max'] });

    await waitFor(async () => read(pidsFile('expire')) === '64', 15_000);
    expect(read(memFile('expire'))).toBe('9223372036854771712');
    // the kernel first, then the lease leaves the state folder
    await waitFor(async () => !(await leases()).some((l) => l.id === res.body.lease.id));
    await waitFor(async () => (await audit('lease.expired')).some((e) => e.after?.leaseId === res.body.lease.id && e.result === 'ok'));
    const events = t.app.get(EventsService).bus.buffered();
    expect(events.some((e) => e.type === 'lease.expired' && e.target === `cgroup:${root.path}/expire` && e.data.leaseId === res.body.lease.id)).toBe(true);
  });

  it('a dry run with ttlSeconds keeps no lease and writes nothing: it answers the lease it would make (id null)', async () => {
    const before = read(pidsFile('keep'));
    const res = await t.http().patch(`/v1/cgroups${root.path}/keep/-/limits?dryRun=true`).set(as(t.tokens.operator)).send({ pids: { max: 123 }, ttlSeconds: 60 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ dryRun: true, lease: { id: null, fields: ['pids.max'] } });
    expect(Date.parse(res.body.lease.expiresAt)).toBeGreaterThan(Date.now());
    expect(read(pidsFile('keep'))).toBe(before);
    expect((await leases()).some((l) => l.target === `cgroup:${root.path}/keep`)).toBe(false);
  });

  it('a batch item takes ttlSeconds; a batch that fails puts its items back and keeps none of their leases', async () => {
    const ok = await t.http().post('/v1/changes').set(as(t.tokens.operator)).send({ changes: [{ cgroup: `${root.path}/hand`, limits: { pids: { max: 90 } }, ttlSeconds: 60 }] });
    expect(ok.status).toBe(200);
    const lease = ok.body.items[0].cgroup.lease;
    expect(lease).toMatchObject({ fields: ['pids.max'] });
    expect((await leases()).some((l) => l.id === lease.id)).toBe(true);
    expect((await t.http().delete(`/v1/leases/${lease.id}`).set(as(t.tokens.operator))).status).toBe(200);

    // the kernel refuses the second item (a cpuset outside its parent's) after the first was written
    expect((await t.http().put(`/v1/cgroups${root.path}/narrow`).set(as(t.tokens.operator)).send({ limits: { cpuset: { cpus: '0' } } })).status).toBe(200);
    expect((await t.http().put(`/v1/cgroups${root.path}/narrow/b`).set(as(t.tokens.operator)).send({})).status).toBe(200);
    const before = read(pidsFile('hand'));
    const failed = await t.http().post('/v1/changes').set(as(t.tokens.operator)).send({
      changes: [
        { cgroup: `${root.path}/hand`, limits: { pids: { max: 91 } }, ttlSeconds: 60 },
        { cgroup: `${root.path}/narrow/b`, limits: { cpuset: { cpus: '1' } } },
      ],
    });
    expect(failed.status, JSON.stringify(failed.body)).toBe(422);
    expect(failed.body.error.details.restored).toEqual([`cgroup:${root.path}/hand`]);
    expect(read(pidsFile('hand'))).toBe(before);
    expect((await leases()).some((l) => l.target === `cgroup:${root.path}/hand`)).toBe(false);
  });

  it('a later change of the same field voids the lease: its value stays', async () => {
    const leased = await patch('void', { pids: { max: 100 }, ttlSeconds: 2 });
    expect(leased.status).toBe(200);
    // another field: the lease stands
    expect((await patch('void', { memory: { max: '64M' } })).status).toBe(200);
    expect((await leases()).some((l) => l.id === leased.body.lease.id)).toBe(true);
    // the same field: void
    expect((await patch('void', { pids: { max: 120 } })).status).toBe(200);
    expect((await leases()).some((l) => l.id === leased.body.lease.id)).toBe(false);
    expect((await audit('lease.voided')).some((e) => e.after?.leaseId === leased.body.lease.id)).toBe(true);
    await sleep(3000); // past its expiry
    expect(read(pidsFile('void'))).toBe('120');
  });

  it('a write by hand to a leased field since the change also wins: at expiry the lease ends void', async () => {
    const leased = await patch('hand', { pids: { max: 100 }, ttlSeconds: 1 });
    expect(leased.status).toBe(200);
    writeFileSync(pidsFile('hand'), '150');
    await waitFor(async () => (await audit('lease.voided')).some((e) => e.after?.leaseId === leased.body.lease.id));
    expect(read(pidsFile('hand'))).toBe('150');
    expect((await audit('lease.expired')).some((e) => e.after?.leaseId === leased.body.lease.id)).toBe(false);
  });

  it('DELETE keeps the change (operator; viewers may only look); a second DELETE is 404', async () => {
    const leased = await patch('keep', { pids: { max: 200 }, ttlSeconds: 2 });
    const id = leased.body.lease.id as string;
    expect((await t.http().delete(`/v1/leases/${id}`).set(as(t.tokens.viewer))).status).toBe(403);
    const kept = await t.http().delete(`/v1/leases/${id}`).set(as(t.tokens.operator));
    expect(kept.status).toBe(200);
    expect(kept.body).toMatchObject({ id, result: 'kept', lease: { fields: ['pids.max'] } });
    await waitFor(async () => t.app.get(EventsService).bus.buffered().some((e) => e.type === 'lease.kept' && e.data.leaseId === id && e.data.target === `cgroup:${root.path}/keep`));
    await sleep(3000);
    expect(read(pidsFile('keep'))).toBe('200');
    const again = await t.http().delete(`/v1/leases/${id}`).set(as(t.tokens.operator));
    expect([again.status, again.body.error?.code]).toEqual([404, 'NOT_FOUND']);
  });

  it('ttlSeconds is bounded, and GraphQL takes it too', async () => {
    expect((await patch('keep', { pids: { max: 300 }, ttlSeconds: 0 })).status).toBe(400);
    expect((await patch('keep', { pids: { max: 300 }, ttlSeconds: 86_401 })).status).toBe(400);
    expect(read(pidsFile('keep'))).toBe('200');
    const q = `mutation { setCgroupLimits(path: "${root.path}/keep", limits: { pids: { max: "250" } }, ttlSeconds: 60) { after { pids { max } } lease { id fields } } }`;
    const res = await t.graphql(q, t.tokens.operator);
    expect(res.body.data?.setCgroupLimits).toMatchObject({ after: { pids: { max: 250 } }, lease: { fields: ['pids.max'] } });
    const id = (res.body.data!.setCgroupLimits as { lease: { id: string } }).lease.id;
    const kept = await t.graphql(`mutation { keepLease(id: "${id}") { result } }`, t.tokens.operator);
    expect(kept.body.data?.keepLease).toEqual({ result: 'kept' });
  });

  it('a container lease puts the engine\'s memory limit back (docker inspect and the kernel); a limit the engine cannot remove is refused up front', async () => {
    const c = await runContainer('tuning-lease', ['--memory', '64m', TEST_IMAGE, 'sleep', '600']);
    made.push(c.id);
    await waitFor(async () => (await t.http().get(`/v1/containers/${c.id}`).set(as(t.tokens.viewer))).body.state === 'running', 30_000);
    const res = await t.http().patch(`/v1/containers/${c.id}/limits`).set(as(t.tokens.operator)).send({ memory: '96M', ttlSeconds: 1 });
    expect(res.status).toBe(200);
    expect(res.body.lease).toMatchObject({ fields: ['memory'] });
    expect(await docker(['inspect', '--format', '{{.HostConfig.Memory}}', c.id])).toBe(String(96 * MiB));
    // the lease ends once the engine has answered the update (docker inspect shows the new value a
    // moment before runc has written the kernel's): then both hold the before value
    await waitFor(async () => !(await leases()).some((l) => l.id === res.body.lease.id), 15_000, 200);
    expect(await docker(['inspect', '--format', '{{.HostConfig.Memory}}', c.id])).toBe(String(64 * MiB));
    const view = (await t.http().get(`/v1/containers/${c.id}`).set(as(t.tokens.viewer))).body;
    expect(view.limits.memory.max).toBe(64 * MiB);

    // GraphQL takes the same options beside ifVersion and dryRun; a dry run makes no lease and sends nothing
    const dry = await t.graphql(
      `mutation { updateContainerLimits(id: "${c.id}", limits: { memory: "80M" }, ttlSeconds: 60, strategy: "reclaim", dryRun: true) { dryRun writes { field to } lease { id fields } } }`,
      t.tokens.operator,
    );
    expect(dry.body.data?.updateContainerLimits, JSON.stringify(dry.body.errors)).toEqual({ dryRun: true, writes: [{ field: 'Memory', to: 80 * MiB }], lease: { id: null, fields: ['memory'] } });
    expect(await docker(['inspect', '--format', '{{.HostConfig.Memory}}', c.id])).toBe(String(64 * MiB));
    expect((await leases()).some((l) => l.target === `container:${c.id}`)).toBe(false);

    const bare = await runContainer('tuning-lease-bare', [TEST_IMAGE, 'sleep', '600']);
    made.push(bare.id);
    await waitFor(async () => (await t.http().get(`/v1/containers/${bare.id}`).set(as(t.tokens.viewer))).body.state === 'running', 30_000);
    const refused = await t.http().patch(`/v1/containers/${bare.id}/limits`).set(as(t.tokens.operator)).send({ memory: '96M', ttlSeconds: 60 });
    expect([refused.status, refused.body.error?.code]).toEqual([422, 'LIMIT_INVALID']);
    expect(await docker(['inspect', '--format', '{{.HostConfig.Memory}}', bare.id])).toBe('0');
  });
});

describe('a lease survives a SIGKILL of the service', () => {
  let svc: RunningService | undefined;
  let root: TestCgroup | undefined;
  let dataDir: string | undefined;
  afterAll(async () => {
    await svc?.stop('SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    root?.remove();
  });

  it('acknowledged before kill -9, it expires after the restart on the same state folder', async () => {
    root = makeTestCgroup('lease-crash');
    svc = await startService({ NSGATE_MANAGED_CGROUPS: root.path });
    dataDir = svc.dataDir;
    const token = readFileSync(`${dataDir}/admin.token`, 'utf8').trim();
    const path = `${root.path}/t`;
    const pids = `${root.dir('pids')}/t/pids.max`;
    expect((await fetch(`${svc.url}/v1/cgroups${path}`, { method: 'PUT', headers: as(token), body: '{}' })).status).toBe(200);
    const res = await fetch(`${svc.url}/v1/cgroups${path}/-/limits`, { method: 'PATCH', headers: as(token), body: JSON.stringify({ pids: { max: 77 }, ttlSeconds: 2 }) });
    expect(res.status).toBe(200);
    const { lease } = (await res.json()) as { lease: { id: string } };

    // killed by its pid the moment the answer is in
    process.kill(svc.child.pid!, 'SIGKILL');
    await svc.stop('SIGKILL');
    expect(read(pids)).toBe('77');
    await sleep(2500); // overdue by the time it starts again

    svc = await startService({ NSGATE_MANAGED_CGROUPS: root.path }, dataDir);
    await waitFor(async () => read(pids) === 'max', 20_000);
    // the kernel first, then the lease leaves the state folder and its expiry is audited
    const listed = async () => ((await (await fetch(`${svc!.url}/v1/leases`, { headers: as(token) })).json()) as { items: unknown[] }).items;
    await waitFor(async () => (await listed()).length === 0, 10_000);
    const expired = () =>
      readFileSync(`${dataDir}/audit.log`, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, any>)
        .some((l) => l.action === 'lease.expired' && l.result === 'ok' && l.after?.leaseId === lease.id);
    await waitFor(async () => expired(), 10_000);
    await svc.stop();
  });
});
