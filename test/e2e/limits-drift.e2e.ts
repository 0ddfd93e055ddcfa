import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventsService } from '../../src/events/events.service.js';
import { startTestApp, type TestApp, waitFor } from './support/app.js';
import { cgroupDir, cgroupHierarchies } from './support/cgroupfs.js';
import { docker, dockerHost, removeContainer, runContainer, TEST_IMAGE, type TestContainer } from './support/docker.js';

// The example on this host's kernel: a raw `echo 8000000 > memory.limit_in_bytes` into a
// container's cgroup reads back 7999488 while `docker inspect` still says 0. nsgate shows it as
// drift, publishes limits.drift, and reconcile writes the engine's value back.

const read = (file: string) => readFileSync(file, 'utf8').trim();
const V1_UNLIMITED = '9223372036854771712';

describe('drift between the kernel and the engine, and reconcile', () => {
  let t: TestApp;
  let c: TestContainer;
  let events: EventsService;
  const as = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
  const file = (controller: string, name: string) => join(cgroupDir(cgroupHierarchies().find((h) => h.controllers.includes(controller))!, `/docker/${c.id}`)!, name);
  const view = async () => (await t.http().get(`/v1/containers/${c.id}`).set(as(t.tokens.viewer))).body;
  const driftEvents = () => events.bus.buffered().filter((e) => e.type === 'limits.drift' && e.target === `container:${c.id}`);

  beforeAll(async () => {
    c = await runContainer('tuning-drift', [TEST_IMAGE, 'sleep', '600']);
    // the periodic check runs every second here, so a drift nobody looks at is found too
    t = await startTestApp({ DOCKER_HOST: dockerHost(), NSGATE_CONTAINER_RECONCILE_MS: '1000' });
    events = t.app.get(EventsService);
    await waitFor(async () => (await view()).state === 'running', 30_000);
  });
  afterAll(async () => {
    await removeContainer(c?.id);
    await t?.close();
  });

  it('a raw write shows as drift (REST and GraphQL), fires limits.drift once, and reconcile puts the engine\'s value back', async () => {
    expect((await view()).drift).toEqual([]);
    expect(driftEvents()).toEqual([]);

    writeFileSync(file('memory', 'memory.limit_in_bytes'), '8000000');
    expect(await docker(['inspect', '--format', '{{.HostConfig.Memory}}', c.id])).toBe('0');
    const drifted = await view();
    expect(drifted.limits.memory.max).toBe(7999488);
    expect(drifted.drift).toEqual([{ field: 'memory', kernel: 7999488, engine: null }]);
    const gql = await t.graphql(`{ container(id: "${c.id}") { drift { field kernel engine } } }`, t.tokens.viewer);
    expect(gql.body.data?.container).toEqual({ drift: [{ field: 'memory', kernel: 7999488, engine: null }] });

    // the view (or the periodic check, whichever came first) published it, once however often it is seen
    await waitFor(async () => driftEvents().length > 0, 5_000, 50);
    await view();
    expect(driftEvents()).toHaveLength(1);
    expect(driftEvents()[0]!.data).toMatchObject({ drift: [{ field: 'memory', kernel: 7999488, engine: null }] });

    const refused = await t.http().post(`/v1/containers/${c.id}/limits/reconcile`).set(as(t.tokens.viewer));
    expect(refused.status).toBe(403);
    expect(read(file('memory', 'memory.limit_in_bytes'))).toBe('7999488');

    const res = await t.http().post(`/v1/containers/${c.id}/limits/reconcile`).set(as(t.tokens.operator));
    expect(res.status).toBe(200);
    expect(res.body.drift).toEqual([{ field: 'memory', kernel: 7999488, engine: null }]);
    expect(res.body.before.memory.max).toBe(7999488);
    expect(res.body.after.memory.max).toBeNull();
    expect(read(file('memory', 'memory.limit_in_bytes'))).toBe(V1_UNLIMITED);
    expect((await view()).drift).toEqual([]);

    const audit = await t.http().get('/v1/audit?action=container.reconcile').set(as(t.tokens.admin));
    expect(audit.body.items.find((e: { stage: string }) => e.stage === 'completed')).toMatchObject({ result: 'ok', target: `container:${c.id}` });
    // and the change is published like any limit change
    await waitFor(async () => events.bus.buffered().some((e) => e.type === 'limits.changed' && e.target === `container:${c.id}` && e.data.action === 'container.reconcile'), 5_000, 50);
  });

  it('the periodic check finds a drift no one looks at; reconcile with no drift writes nothing', async () => {
    const seen = driftEvents().length;
    writeFileSync(file('pids', 'pids.max'), '50');
    await waitFor(async () => driftEvents().length > seen, 10_000, 100);
    expect(driftEvents().at(-1)!.data).toMatchObject({ drift: [{ field: 'pidsLimit', kernel: 50, engine: null }] });

    const res = await t.http().post(`/v1/containers/${c.id}/limits/reconcile`).set(as(t.tokens.operator));
    expect(res.status).toBe(200);
    expect(read(file('pids', 'pids.max'))).toBe('max');
    const again = await t.http().post(`/v1/containers/${c.id}/limits/reconcile`).set(as(t.tokens.operator));
    expect(again.body.drift).toEqual([]);
    expect((await view()).drift).toEqual([]);
  });

  it('reconcile goes through the change pipeline: a stale If-Match is 412, a dry run writes nothing and says the writes, an Idempotency-Key replays, the ETag is the version', async () => {
    writeFileSync(file('pids', 'pids.max'), '40');
    await waitFor(async () => (await view()).drift?.length === 1, 5_000, 50);

    const stale = await t.http().post(`/v1/containers/${c.id}/limits/reconcile`).set({ ...as(t.tokens.operator), 'if-match': '"not-the-version"' });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('PRECONDITION_FAILED');
    expect(read(file('pids', 'pids.max'))).toBe('40');

    const dry = await t.http().post(`/v1/containers/${c.id}/limits/reconcile?dryRun=true`).set(as(t.tokens.operator));
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, drift: [{ field: 'pidsLimit', kernel: 40, engine: null }] });
    expect(dry.body.writes).toEqual([{ file: expect.stringMatching(/pids\.max$/), from: '40', to: 'max' }]);
    expect(dry.body.after).toEqual(dry.body.before);
    expect(read(file('pids', 'pids.max'))).toBe('40');

    const key = `tuning-reconcile-${Date.now()}`;
    const first = await t.http().post(`/v1/containers/${c.id}/limits/reconcile`).set({ ...as(t.tokens.operator), 'idempotency-key': key, 'if-match': `"${dry.body.version}"` });
    expect(first.status).toBe(200);
    expect(first.body.dryRun).toBe(false);
    expect(first.headers.etag).toBe(`"${first.body.version}"`);
    expect(read(file('pids', 'pids.max'))).toBe('max');
    // the version a read shows afterwards is the one the answer gave
    expect((await view()).limitsVersion).toBe(first.body.version);
    writeFileSync(file('pids', 'pids.max'), '40');
    const replay = await t.http().post(`/v1/containers/${c.id}/limits/reconcile`).set({ ...as(t.tokens.operator), 'idempotency-key': key, 'if-match': `"${dry.body.version}"` });
    expect(replay.status).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(first.body);
    // a replay writes nothing: the raw write stays until a new reconcile
    expect(read(file('pids', 'pids.max'))).toBe('40');
    const fresh = await t.http().post(`/v1/containers/${c.id}/limits/reconcile`).set(as(t.tokens.operator));
    expect(fresh.status).toBe(200);
    expect(read(file('pids', 'pids.max'))).toBe('max');
  });

  it('a change through nsgate is no drift: the engine and the kernel agree after it', async () => {
    const seen = driftEvents().length;
    const res = await t.http().patch(`/v1/containers/${c.id}/limits`).set(as(t.tokens.operator)).send({ memory: 8000000 });
    expect(res.status).toBe(200);
    expect((await view()).drift).toEqual([]);
    await new Promise((r) => setTimeout(r, 1500)); // one periodic check
    expect(driftEvents()).toHaveLength(seen);
  });
});
