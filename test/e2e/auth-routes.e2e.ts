import { GraphQLSchemaHost } from '@nestjs/graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RouteOptions } from 'fastify';
import { startTestApp, type TestApp } from './support/app.js';
import { declaredHandlers, sampleOperation, sampleUrl, type DeclaredHandler } from './support/walk.js';

const BELOW: Record<string, ('viewer' | 'operator')[]> = { viewer: [], operator: ['viewer'], admin: ['viewer', 'operator'] };

describe('every route and every GraphQL field is guarded', () => {
  let t: TestApp;
  const routes: { method: string; url: string }[] = [];
  let handlers: DeclaredHandler[];

  beforeAll(async () => {
    // every refusal of the walk below is checked in the log: no per-address cap on refusal lines here
    t = await startTestApp({ NSGATE_AUDIT_REFUSALS_PER_MINUTE: '1000000' }, {
      beforeInit: (app) =>
        app.getHttpAdapter().getInstance().addHook('onRoute', (r: RouteOptions) => {
          for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method, url: r.url });
        }),
    });
    handlers = declaredHandlers(t.app);
  });
  afterAll(async () => t?.close());

  it('declares a role on every handler, and the declarations are as reviewed', () => {
    expect(handlers.filter((h) => h.role === undefined).map((h) => h.name)).toEqual([]);
    const raised = (h: DeclaredHandler) => (h.byAction ? ` (${Object.entries(h.byAction).map(([a, r]) => `${a}: ${r}`).join(', ')})` : '');
    expect(handlers.map((h) => `${h.kind} ${h.name}: ${h.role}${raised(h)}${h.audited ? ' (audited)' : ''}`)).toMatchSnapshot();
  });

  it('audits every mutation: REST writes and GraphQL mutations', () => {
    const unaudited = handlers.filter((h) => (h.kind === 'Mutation' || (h.kind === 'rest' && !h.name.startsWith('GET '))) && !h.audited);
    expect(unaudited.map((h) => h.name)).toEqual([]);
  });

  it('knows every route Fastify serves', () => {
    const declared = new Set(handlers.filter((h) => h.kind === 'rest').map((h) => h.name));
    const served = routes.filter((r) => r.url !== '/graphql').map((r) => `${r.method} ${r.url}`);
    expect(served.length).toBeGreaterThan(5);
    expect(served.filter((r) => !declared.has(r))).toEqual([]);
  });

  it('answers 401 without a token and 403 to a role below the declared one, on every REST route', async () => {
    const failures: string[] = [];
    for (const h of handlers.filter((x) => x.kind === 'rest')) {
      const [method, pattern] = h.name.split(' ') as [string, string];
      const url = sampleUrl(pattern);
      const send = (token?: string) => {
        const req = t.http()[method.toLowerCase() as 'get'](url);
        if (token) req.set('authorization', `Bearer ${token}`);
        return method === 'GET' || method === 'DELETE' ? req : req.send({});
      };
      if (h.role === 'public') {
        const res = await send();
        if (res.status === 401 || res.status === 403) failures.push(`${h.name}: public but ${res.status}`);
        continue;
      }
      const anonymous = await send();
      if (anonymous.status !== 401 || anonymous.body?.error?.code !== 'UNAUTHENTICATED') failures.push(`${h.name}: no token gave ${anonymous.status}`);
      const wrong = await send('nsg_not-a-real-token');
      if (wrong.status !== 401) failures.push(`${h.name}: unknown token gave ${wrong.status}`);
      for (const role of BELOW[h.role!]!) {
        const res = await send(t.tokens[role]);
        if (res.status !== 403 || res.body?.error?.code !== 'FORBIDDEN') failures.push(`${h.name}: ${role} gave ${res.status}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('answers 401 without a token and FORBIDDEN to a role below, on every GraphQL root field', async () => {
    const schema = t.app.get(GraphQLSchemaHost).schema;
    const failures: string[] = [];
    const fields = handlers.filter((h) => h.kind === 'Query' || h.kind === 'Mutation');
    expect(fields.length).toBeGreaterThan(0);
    for (const h of fields) {
      const op = sampleOperation(schema, h.kind as 'Query' | 'Mutation', h.name);
      const anonymous = await t.graphql(op);
      if (anonymous.status !== 401) failures.push(`${h.name}: no token gave ${anonymous.status}`);
      for (const role of BELOW[h.role!]!) {
        const res = await t.graphql(op, t.tokens[role]);
        if (res.body.errors?.[0]?.extensions?.code !== 'FORBIDDEN') failures.push(`${h.name}: ${role} gave ${JSON.stringify(res.body)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('writes every refused mutation to the audit log under the caller', async () => {
    const mutations = handlers.filter((h) => h.kind === 'rest' && !h.name.startsWith('GET ') && h.role !== 'viewer');
    const page = await t.http().get('/v1/audit?caller=grafana&limit=5000').set('authorization', `Bearer ${t.tokens.admin}`);
    expect(page.status).toBe(200);
    const denied = (page.body.items as { result: string; errorCode: string; action: string }[]).filter((e) => e.result === 'denied');
    expect(denied.length).toBeGreaterThanOrEqual(mutations.length);
    expect(denied.every((e) => e.errorCode === 'FORBIDDEN')).toBe(true);
  });

  it('documents every REST route in /openapi.json', async () => {
    const doc = await t.http().get('/openapi.json').set('authorization', `Bearer ${t.tokens.viewer}`);
    const documented = new Set(Object.entries(doc.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)));
    const missing = handlers
      .filter((h) => h.kind === 'rest')
      .map((h) => h.name.replace(/:(\w+)/g, '{$1}').replace(/\/\*$/, '/{path}'))
      .filter((route) => !documented.has(route));
    expect(missing).toEqual([]);
  });

  it('lets only admins introspect', async () => {
    const viewer = await t.graphql('{ __schema { queryType { name } } }', t.tokens.viewer);
    expect(viewer.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const admin = await t.graphql('{ __schema { queryType { name } } }', t.tokens.admin);
    expect(admin.body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });
});
