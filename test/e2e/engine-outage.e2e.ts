import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.js';
import { dockerHost } from './support/docker.js';

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
  const get = (url: string) => t.http().get(url).set('authorization', `Bearer ${t.tokens.viewer}`);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsgate-engine-'));
    engine = new EngineSocket(join(dir, 'docker.sock'), dockerHost().replace(/^unix:\/\//, ''));
    await engine.up();
    t = await startTestApp({ DOCKER_HOST: `unix://${engine.path}` });
  });
  afterAll(async () => {
    await t?.close();
    await engine?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 ENGINE_UNAVAILABLE on container routes while health and the rest answer, and recovers on its own', async () => {
    expect((await get('/v1/containers')).status).toBe(200);
    await engine.down();
    for (const url of ['/v1/containers', '/v1/containers/db/stats', '/v1/containers/db']) {
      const res = await get(url);
      expect([url, res.status, res.body.error?.code]).toEqual([url, 503, 'ENGINE_UNAVAILABLE']);
    }
    expect((await t.http().get('/healthz')).status).toBe(200);
    const ready = await t.http().get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.docker.status).toBe('unavailable');
    expect((await get('/v1/host')).body.engine.status).toBe('unavailable');
    expect((await get('/v1/namespaces')).status).toBe(200);
    expect((await get('/v1/processes?limit=1')).status).toBe(200);
    await engine.up();
    expect((await get('/v1/containers')).status).toBe(200);
    expect((await get('/v1/host')).body.engine.status).toBe('up');
  });
});
