import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp, waitFor } from './support/app.js';
import { dockerHost, removeContainer, runContainer, TEST_IMAGE, type TestContainer } from './support/docker.js';

/** A unix socket that forwards to the real engine, and can be taken away and brought back. */
class EngineSocket {
  private server: Server | undefined;
  private readonly clients = new Set<Socket>();
  constructor(
    readonly path: string,
    private readonly upstream: string,
  ) {}
  async up(): Promise<void> {
    this.server = createServer((client) => {
      this.clients.add(client);
      const engine = connect(this.upstream);
      client.pipe(engine).pipe(client);
      const end = () => {
        this.clients.delete(client);
        client.destroy();
        engine.destroy();
      };
      client.on('error', end).on('close', end);
      engine.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.path, resolve));
  }
  async down(): Promise<void> {
    for (const c of this.clients) c.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }
}

describe('when the engine goes away', () => {
  let t: TestApp;
  let dir: string;
  let engine: EngineSocket;
  let db: TestContainer;
  const get = (url: string) => t.http().get(url).set('authorization', `Bearer ${t.tokens.viewer}`);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsgate-engine-'));
    engine = new EngineSocket(join(dir, 'docker.sock'), dockerHost().replace(/^unix:\/\//, ''));
    await engine.up();
    db = await runContainer('outage-db', [TEST_IMAGE, 'sleep', '600']);
    t = await startTestApp({ DOCKER_HOST: `unix://${engine.path}`, NSGATE_CONTAINER_RECONCILE_MS: '1000' });
  });
  afterAll(async () => {
    await t?.close();
    await engine?.down();
    await removeContainer(db?.id ?? 'none');
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves what the engine last said, marked stale, while health and the rest answer, and recovers on its own', async () => {
    const before = await get('/v1/containers');
    expect(before.status).toBe(200);
    expect(before.body.stale).toBe(false);
    expect(before.body.items.map((c: { id: string }) => c.id)).toContain(db.id);
    await engine.down();
    // the broken event stream makes the model list the engine at once; that fails: stale
    await waitFor(async () => (await get('/v1/containers')).body.stale === true);
    const list = await get('/v1/containers');
    expect(list.status).toBe(200);
    const known = list.body.items.find((c: { id: string }) => c.id === db.id);
    expect(known).toMatchObject({ name: db.name, state: 'running', pid: db.pid, stale: true });
    const one = await get(`/v1/containers/${db.name}`);
    expect([one.status, one.body.stale, one.body.pid]).toEqual([200, true, db.pid]);
    // limits and usage come from the kernel, which is still there
    expect(one.body.limits).not.toBeNull();
    expect((await get(`/v1/containers/${db.name}/stats`)).status).toBe(200);
    const gql = await t.graphql(`{ containers { stale items { id stale } } container(id: "${db.name}") { stale pid } }`, t.tokens.viewer);
    expect(gql.body.errors).toBeUndefined();
    expect(gql.body.data).toMatchObject({ containers: { stale: true }, container: { stale: true, pid: db.pid } });
    // a name the model never saw may have been made meanwhile: the engine must be asked, and cannot be
    const unknown = await get('/v1/containers/no-such-container-anywhere');
    expect([unknown.status, unknown.body.error?.code]).toEqual([503, 'ENGINE_UNAVAILABLE']);
    expect((await t.http().get('/healthz')).status).toBe(200);
    const ready = await t.http().get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.docker.status).toBe('unavailable');
    expect((await get('/v1/host')).body.engine.status).toBe('unavailable');
    expect((await get('/v1/namespaces')).status).toBe(200);
    expect((await get('/v1/processes?limit=1')).status).toBe(200);
    await engine.up();
    // the next reconcile (every second here) succeeds
    await waitFor(async () => (await get('/v1/containers')).body.stale === false);
    expect((await get(`/v1/containers/${db.name}`)).body.stale).toBe(false);
    expect((await get('/v1/host')).body.engine.status).toBe('up');
  });
});

describe('when the engine never answered', () => {
  let t: TestApp;
  let dir: string;
  const get = (url: string) => t.http().get(url).set('authorization', `Bearer ${t.tokens.viewer}`);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsgate-engine-'));
    t = await startTestApp({ DOCKER_HOST: `unix://${join(dir, 'absent.sock')}` });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 ENGINE_UNAVAILABLE on container routes: there is nothing it knew to serve', async () => {
    for (const url of ['/v1/containers', '/v1/containers/db', '/v1/containers/db/stats']) {
      const res = await get(url);
      expect([url, res.status, res.body.error?.code]).toEqual([url, 503, 'ENGINE_UNAVAILABLE']);
    }
    expect((await get('/v1/processes?limit=1')).status).toBe(200);
  });
});
