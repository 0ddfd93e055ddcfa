import { spawnSync } from 'node:child_process';
import { readFile, rm, stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.js';
import { MAIN, startService } from './support/service.js';

describe('the service on its own (a child process)', () => {
  it('refuses a bad setting with a message naming it and a non-zero exit', () => {
    const run = spawnSync(process.execPath, [MAIN], { env: { ...process.env, NSGATE_LISTEN: 'nonsense' }, encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/NSGATE_LISTEN: "nonsense" is not host:port/);
  });

  it('creates the tokens file and a 0600 admin.token on first start, logs the path and never the token', async () => {
    const svc = await startService();
    try {
      const token = (await readFile(`${svc.dataDir}/admin.token`, 'utf8')).trim();
      expect((await stat(`${svc.dataDir}/admin.token`)).mode & 0o777).toBe(0o600);
      const tokens = JSON.parse(await readFile(`${svc.dataDir}/tokens.json`, 'utf8')) as { name: string; role: string; tokenSha256: string }[];
      expect(tokens).toHaveLength(1);
      expect(tokens[0]).toMatchObject({ name: 'admin', role: 'admin' });
      expect(JSON.stringify(tokens)).not.toContain(token);
      expect(svc.output()).toContain(`${svc.dataDir}/admin.token`);
      expect(svc.output()).not.toContain(token);
      const host = await fetch(`${svc.url}/v1/host`, { headers: { authorization: `Bearer ${token}` } });
      expect(host.status).toBe(200);
      // every log line is JSON
      for (const line of svc.output().split('\n').filter((l) => l.startsWith('{'))) expect(() => JSON.parse(line)).not.toThrow();
    } finally {
      await svc.stop();
      await rm(svc.dataDir, { recursive: true, force: true });
    }
  });
});

describe('the spine over HTTP', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());

  it('answers /healthz without a token', async () => {
    const res = await t.http().get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('reports readiness per dependency, the engine being absent or present but never fatal', async () => {
    const res = await t.http().get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ready');
    expect(Object.keys(res.body.checks).sort()).toEqual(['audit', 'cgroupfs', 'docker', 'procfs', 'stateDir']);
    expect(['ok', 'unavailable']).toContain(res.body.checks.docker.status);
    expect(res.body.checks.docker.required).toBe(false);
  });

  it('refuses /v1/host without a token, in the error shape', async () => {
    const res = await t.http().get('/v1/host');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: 'UNAUTHENTICATED', message: expect.any(String) } });
  });

  it('gives the host facts to a viewer: hybrid here, memory among the v1 controllers', async () => {
    const res = await t.http().get('/v1/host').set('authorization', `Bearer ${t.tokens.viewer}`);
    expect(res.status).toBe(200);
    const release = (await readFile('/proc/sys/kernel/osrelease', 'utf8')).trim();
    expect(res.body.kernel).toBe(release);
    expect(res.body.cgroupMode).toBe('hybrid');
    const memory = res.body.hierarchies.find((h: { controllers: string[] }) => h.controllers.includes('memory'));
    expect(memory).toMatchObject({ version: 1, mountPoint: '/sys/fs/cgroup/memory' });
    expect(res.body.hierarchies.some((h: { version: number }) => h.version === 2)).toBe(true);
    expect(Array.isArray(res.body.lsms)).toBe(true);
    expect(['up', 'unavailable']).toContain(res.body.engine.status);
  });

  it('answers the same host through GraphQL', async () => {
    const res = await t.graphql('{ host { kernel cgroupMode hierarchies { version controllers } engine { status } } }', t.tokens.viewer);
    expect(res.status).toBe(200);
    const host = res.body.data!.host as { cgroupMode: string; hierarchies: { controllers: string[] }[] };
    expect(host.cgroupMode).toBe('hybrid');
    expect(host.hierarchies.some((h) => h.controllers.includes('memory'))).toBe(true);
  });

  it('answers unknown routes with the error shape and a request id', async () => {
    const res = await t.http().get('/v1/nope').set('authorization', `Bearer ${t.tokens.viewer}`).set('x-request-id', 'walk-1');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('ROUTE_NOT_FOUND');
    expect(res.headers['x-request-id']).toBe('walk-1');
  });

  it('refuses a too-large body with 413 and malformed JSON with 400, never a stack trace', async () => {
    const big = await t.http().post('/graphql').set('authorization', `Bearer ${t.tokens.viewer}`).set('content-type', 'application/json').send(JSON.stringify({ query: `{ host { kernel } }`, pad: 'x'.repeat(200_000) }));
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    const bad = await t.http().post('/graphql').set('authorization', `Bearer ${t.tokens.viewer}`).set('content-type', 'application/json').send('{"query": ');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).not.toMatch(/\bat \w+ \(|node_modules/);
  });

  it('refuses a GraphQL request a browser could forge (CSRF prevention)', async () => {
    const res = await t.http().get('/graphql?query=%7B__typename%7D').set('authorization', `Bearer ${t.tokens.viewer}`);
    expect(res.status).toBe(400);
  });

  it('serves the OpenAPI document and a self-contained docs page to anyone (they describe routes, not the host)', async () => {
    const doc = await t.http().get('/openapi.json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/v1/host', '/v1/audit', '/metrics']));
    const page = await t.http().get('/docs');
    expect(page.status).toBe(200);
    expect(page.text).toContain('SwaggerUIBundle');
    expect(page.text).not.toMatch(/<script[^>]+src=|<link[^>]+href=["']https?:/);
  });

  it('serves Prometheus metrics to a viewer', async () => {
    const res = await t.http().get('/metrics').set('authorization', `Bearer ${t.tokens.viewer}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('nsgate_http_request_duration_seconds');
  });
});
