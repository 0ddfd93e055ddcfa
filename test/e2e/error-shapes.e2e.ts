// Issue 16, items 5 and 7: every bad request gets a 4xx in the one error shape, on REST and
// GraphQL alike, and the smaller inconsistencies (-1, exec user forms, duplicate keys) are gone.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.js';
import { cgroupParent, makeTestCgroup, type TestCgroup } from './support/cgroups.js';
import { listen } from './support/listen.js';

const read = (file: string) => readFileSync(file, 'utf8').trim();

/** One raw HTTP/1.1 exchange: what a client that does not encode (or over-sends) gets back. */
function raw(port: number, request: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', reject);
    socket.on('end', () => {
      const [head = '', ...rest] = data.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      let body = rest.join('\r\n\r\n');
      if (/transfer-encoding: chunked/i.test(head)) body = body.replace(/^[0-9a-f]+\r\n/i, '').replace(/\r\n0\r\n\r\n$/, '');
      resolve({ status, headers: head, body });
    });
    socket.write(request);
  });
}

function errorShape(body: string): { code: string; message: string } {
  const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
  expect(typeof parsed.error?.code).toBe('string');
  expect(typeof parsed.error?.message).toBe('string');
  return parsed.error as { code: string; message: string };
}

describe('every bad request in the one error shape', () => {
  let t: TestApp;
  let port: number;
  let internal: TestCgroup;
  let managed: string;
  const children: ChildProcess[] = [];
  const as = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

  beforeAll(async () => {
    managed = `${cgroupParent()}/shapes`;
    internal = makeTestCgroup('shapes-internal');
    t = await startTestApp({ NSGATE_MANAGED_CGROUPS: managed, NSGATE_INTERNAL_CGROUP: internal.path });
    ({ port } = await listen(t));
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await t?.http().delete(`/v1/cgroups${managed}/minus`).set(as(t.tokens.admin));
    await t?.http().delete(`/v1/cgroups${managed}`).set(as(t.tokens.admin));
    await t?.close();
    internal?.remove();
  });

  describe('transport errors (before a route runs)', () => {
    it('a malformed percent-encoding is a 400 in the JSON shape', async () => {
      const res = await raw(port, `GET /v1/cgroups/%E0%A4%A HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.tokens.viewer}\r\nConnection: close\r\n\r\n`);
      expect(res.status).toBe(400);
      expect(res.headers).toMatch(/content-type: application\/json/i);
      expect(errorShape(res.body).code).toBe('VALIDATION_FAILED');
    });

    it('a header section over the limit is a 431 in the JSON shape', async () => {
      const res = await raw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\nConnection: close\r\n\r\n`);
      expect(res.status).toBe(431);
      expect(res.headers).toMatch(/content-type: application\/json/i);
      expect(errorShape(res.body).code).toBe('HEADERS_TOO_LARGE');
    });

    it('a route parameter over the limit is a 414 in the JSON shape; a URL past the header limit is the 431', async () => {
      for (const url of [`/v1/containers/${'b'.repeat(5000)}`, `/v1/processes/${'1'.repeat(5000)}`]) {
        const res = await raw(port, `GET ${url} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.tokens.viewer}\r\nConnection: close\r\n\r\n`);
        expect(res.status).toBe(414);
        expect(res.headers).toMatch(/content-type: application\/json/i);
        expect(errorShape(res.body).code).toBe('URI_TOO_LONG');
      }
      const huge = await raw(port, `GET /v1/cgroups/${'a/'.repeat(40 * 1024)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(huge.status).toBe(431);
      expect(errorShape(huge.body).code).toBe('HEADERS_TOO_LARGE');
      const garbage = await raw(port, 'NOT A REQUEST\r\n\r\n');
      expect(garbage.status).toBe(400);
      expect(errorShape(garbage.body).code).toBe('VALIDATION_FAILED');
    });

    it('refuses duplicate JSON keys at any depth with 400, naming the key; prototype pollution stays refused', async () => {
      const dup = await t.http().patch(`/v1/cgroups${managed}/-/limits`).set(as(t.tokens.operator)).send('{"memory":{"max":"8M","max":"max"}}');
      expect(dup.status).toBe(400);
      expect(dup.body.error.code).toBe('VALIDATION_FAILED');
      expect(dup.body.error.details).toMatchObject({ reason: 'duplicate key', duplicateKey: 'max', at: 'memory' });
      const escaped = await t.http().patch(`/v1/cgroups${managed}/-/limits`).set(as(t.tokens.operator)).send('{"memory":{"max":"8M"},"\\u006demory":{}}');
      expect(escaped.body.error?.details).toMatchObject({ duplicateKey: 'memory', at: '' });
      const nested = await t.http().post('/graphql').set(as(t.tokens.viewer)).send('{"query":"{ host { kernel } }","variables":{"a":[{"x":1},{"x":1,"y":[],"x":2}]}}');
      expect([nested.status, nested.body.error?.details]).toMatchObject([400, { duplicateKey: 'x', at: 'variables.a[1]' }]);
      const top = await t.http().post('/graphql').set(as(t.tokens.viewer)).send('{"query":"{ host { kernel } }","query":"{ __typename }"}');
      expect(top.status).toBe(400);
      expect(top.body.error.details.duplicateKey).toBe('query');
      const proto = await t.http().patch(`/v1/cgroups${managed}/-/limits`).set(as(t.tokens.operator)).send('{"__proto__":{"polluted":1},"memory":{"max":"8M"}}');
      expect(proto.status).toBe(400);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      const broken = await t.http().patch(`/v1/cgroups${managed}/-/limits`).set(as(t.tokens.operator)).send('{"memory":');
      expect(broken.status).toBe(400);
      expect(broken.body.error.code).toBe('VALIDATION_FAILED');
    });
  });

  describe('GraphQL validation', () => {
    it('a fragment cycle is a 400 VALIDATION_FAILED, not a 500', async () => {
      for (const query of ['{ ...A } fragment A on Query { ...A }', '{ ...A } fragment A on Query { ...B } fragment B on Query { host { kernel } ...A }']) {
        const res = await t.graphql(query, t.tokens.viewer);
        expect([query, res.status]).toEqual([query, 400]);
        expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
      }
    });

    it('whatever else graphql-js validation reports is a 400 in the same shape', async () => {
      for (const query of ['{ nope }', '{ host { kernel } } { host { kernel } }', 'query Q($x: Int) { host { kernel } }', '{ ...Missing }', '{ host { kernel(arg: 1) } }', '{ host }', 'fragment A on Query { host { kernel } }', '{']) {
        const res = await t.graphql(query, t.tokens.viewer);
        expect([query, res.status]).toEqual([query, 400]);
        expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
      }
    });

    it('a variable that does not fit its type is a 400 too (found by the fuzz target: it was a 500)', async () => {
      const query = 'mutation($l: CgroupLimitsInput!) { setCgroupLimits(path: "/x", limits: $l) { __typename } }';
      for (const l of [{ pids: [1, 2] }, { cpu: { quotaUs: 'x' } }, 'text', { nope: 1 }]) {
        const res = await t.graphql(query, t.tokens.operator, { l });
        expect([JSON.stringify(l), res.status, res.body.errors?.[0]?.extensions?.code]).toEqual([JSON.stringify(l), 400, 'VALIDATION_FAILED']);
      }
    });

    it('no "Did you mean" for non-admins (introspection is admin-only); admins keep the hint', async () => {
      const query = '{ host { kernell } }';
      for (const token of [t.tokens.viewer, t.tokens.operator]) {
        const res = await t.graphql(query, token);
        expect(res.status).toBe(400);
        expect(res.body.errors?.[0]?.message).not.toMatch(/did you mean/i);
        expect(res.body.errors?.[0]?.message).toMatch(/kernell/);
      }
      const mutation = await t.graphql('mutation { setCgroupLimit(path: "/x") { result } }', t.tokens.operator);
      expect(mutation.body.errors?.[0]?.message).not.toMatch(/did you mean|setCgroupLimits/i);
      const admin = await t.graphql(query, t.tokens.admin);
      expect(admin.body.errors?.[0]?.message).toMatch(/did you mean "kernel"/i);
    });
  });

  describe('-1 is "unlimited", as in Docker, on REST and GraphQL alike', () => {
    it('memory.max, pids.max and cpu quota accept -1 and "-1" as unlimited; other negatives are 422', async () => {
      const path = `${managed}/minus`;
      expect((await t.http().put(`/v1/cgroups${path}`).set(as(t.tokens.operator)).send({ limits: { memory: { max: '64M' }, pids: { max: 16 }, cpu: { quotaUs: 50000 } } })).status).toBe(200);
      const rest = await t.http().patch(`/v1/cgroups${path}/-/limits`).set(as(t.tokens.operator)).send({ memory: { max: -1 }, pids: { max: -1 }, cpu: { quotaUs: '-1' } });
      expect(rest.status).toBe(200);
      expect(rest.body.after).toMatchObject({ memory: { max: null }, pids: { max: null }, cpu: { quotaUs: null } });
      expect(read(`/sys/fs/cgroup/pids${path}/pids.max`)).toBe('max');
      await t.http().patch(`/v1/cgroups${path}/-/limits`).set(as(t.tokens.operator)).send({ memory: { max: '64M' }, pids: { max: 16 } });
      const gql = await t.graphql(`mutation { setCgroupLimits(path: "${path}", limits: { memory: { max: "-1" }, pids: { max: "-1" }, cpu: { quotaUs: -1 } }) { after { memory { max } pids { max } cpu { quotaUs } } } }`, t.tokens.operator);
      expect(gql.body.data).toEqual({ setCgroupLimits: { after: { memory: { max: null }, pids: { max: null }, cpu: { quotaUs: null } } } });
      for (const body of [{ memory: { max: -2 } }, { pids: { max: -2 } }, { cpu: { quotaUs: -5 } }, { memory: { max: '-1M' } }, { memory: { max: -1.5 } }]) {
        const res = await t.http().patch(`/v1/cgroups${path}/-/limits`).set(as(t.tokens.operator)).send(body);
        expect([JSON.stringify(body), res.status, res.body.error?.code]).toEqual([JSON.stringify(body), 422, 'LIMIT_INVALID']);
      }
    });
  });

  describe('exec user forms', () => {
    it('accepts 0, "0", "0:0" and {uid: 0, gid: 0} alike; names and bad forms are 400', async () => {
      const target = spawn('sleep', ['600'], { stdio: 'ignore' });
      children.push(target);
      const exec = (user: unknown) => t.http().post(`/v1/processes/${target.pid}/exec`).set(as(t.tokens.admin)).send({ argv: ['id'], user });
      for (const user of [0, '0', '0:0', { uid: 0 }, { uid: 0, gid: 0 }, { uid: '0', gid: '0' }]) {
        const res = await exec(user);
        expect([JSON.stringify(user), res.status, res.body.exitCode]).toEqual([JSON.stringify(user), 200, 0]);
        expect(res.body.stdout).toMatch(/^uid=0\(root\) gid=0\(root\)/);
      }
      const nobody = await exec('65534:65534');
      expect(nobody.body.stdout).toMatch(/^uid=65534\S* gid=65534/);
      for (const user of ['root', '0:root', '-1', '0:0:0', [0], true, { uid: -1 }, { name: 'root' }]) {
        const res = await exec(user);
        expect([JSON.stringify(user), res.status, res.body.error?.code]).toEqual([JSON.stringify(user), 400, 'VALIDATION_FAILED']);
      }
    });
  });
});
