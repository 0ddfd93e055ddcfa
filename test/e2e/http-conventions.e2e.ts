// HTTP conventions generic clients rely on (issue 13, "HTTP"): WWW-Authenticate on 401, 405 with
// Allow, 415 for every non-JSON body, ETag and If-None-Match → 304.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.js';
import { makeTestCgroup, type TestCgroup } from './support/cgroups.js';

describe('HTTP conventions', () => {
  let t: TestApp;
  let root: TestCgroup;
  beforeAll(async () => {
    root = makeTestCgroup('http');
    t = await startTestApp({ NSGATE_MANAGED_CGROUPS: root.path });
  });
  afterAll(async () => {
    await t?.close();
    root?.remove();
  });
  const as = (token: string) => ({ authorization: `Bearer ${token}` });

  it('says Bearer on every 401, and why when the token is unknown', async () => {
    const none = await t.http().get('/v1/namespaces');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="nsgate"');
    const wrong = await t.http().get('/v1/namespaces').set(as('nsg_not-a-token'));
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="nsgate", error="invalid_token"');
  });

  it('answers 405 with Allow for a method a path does not serve, 404 for a path nothing serves', async () => {
    const res = await t.http().delete('/v1/namespaces').set(as(t.tokens.admin));
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(res.body.error).toMatchObject({ code: 'METHOD_NOT_ALLOWED', details: { allowed: ['GET', 'HEAD'] } });
    const audit = await t.http().put('/v1/audit').set(as(t.tokens.admin)).send({});
    expect(audit.status).toBe(405);
    expect(audit.headers.allow).toBe('GET, HEAD');
    expect((await t.http().get('/v1/nothing-here').set(as(t.tokens.admin))).status).toBe(404);
    // an action the cgroup route does not know stays a 404 (the method is served there)
    expect((await t.http().post(`/v1/cgroups${root.path}/-/explode`).set(as(t.tokens.admin)).send({})).status).toBe(404);
  });

  it('refuses every body that is not JSON with 415, changing nothing', async () => {
    const before = (await t.http().get(`/v1/cgroups${root.path}`).set(as(t.tokens.admin))).body.limits;
    for (const [type, body] of [
      ['text/plain', '{"pids":{"max":5}}'],
      ['application/x-www-form-urlencoded', 'pids=5'],
      ['application/xml', '<pids><max>5</max></pids>'],
    ]) {
      const res = await t.http().patch(`/v1/cgroups${root.path}/-/limits`).set(as(t.tokens.admin)).set('content-type', type!).send(body);
      expect([type, res.status, res.body.error?.code]).toEqual([type, 415, 'UNSUPPORTED_MEDIA_TYPE']);
    }
    expect((await t.http().get(`/v1/cgroups${root.path}`).set(as(t.tokens.admin))).body.limits).toEqual(before);
  });

  it('tags GET answers with an ETag and answers 304 while it holds, a new one after a change', async () => {
    const url = `/v1/cgroups${root.path}`;
    const first = await t.http().get(url).set(as(t.tokens.viewer));
    const etag = first.headers.etag!;
    expect(etag).toMatch(/^"[^"]+"$/);
    const again = await t.http().get(url).set(as(t.tokens.viewer)).set('if-none-match', etag);
    expect(again.status).toBe(304);
    expect(again.text ?? '').toBe('');
    expect((await t.http().patch(`${url}/-/limits`).set(as(t.tokens.operator)).send({ pids: { max: 41 } })).status).toBe(200);
    const changed = await t.http().get(url).set(as(t.tokens.viewer)).set('if-none-match', etag);
    expect(changed.status).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
  });

  it('names metrics as Prometheus expects: counters end in _total, nothing else does', async () => {
    const text = (await t.http().get('/metrics').set(as(t.tokens.viewer))).text;
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => ({ name: m[1]!, type: m[2]! }));
    expect(types.length).toBeGreaterThan(10);
    expect(types.filter((m) => m.type !== 'counter' && m.name.endsWith('_total')).map((m) => m.name)).toEqual([]);
    expect(types.filter((m) => m.type === 'counter' && !m.name.endsWith('_total')).map((m) => m.name)).toEqual([]);
    expect(text).toMatch(/^nsgate_nodejs_active_resources\{type="[^"]+"\} \d+$/m);
  });
});
