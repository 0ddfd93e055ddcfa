import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { EventsService } from '../../src/events/events.service.js';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { makeTestCgroup, type TestCgroup } from './support/cgroups.js';
import { docker, dockerHost, removeContainer, runContainer, TEST_IMAGE, type TestContainer } from './support/docker.js';
import { listen } from './support/listen.js';

/*
 * GET /v1/events and the GraphQL subscriptions against the private engine and this host's
 * cgroups: container start/die/oom as the engine reports them, a real OOM kill read from the
 * cgroup's counter, limit changes made through the API, replay with Last-Event-ID, per-caller
 * caps, and streams that end cleanly on client disconnect and on app.close().
 */

interface SseEvent {
  id: string;
  event: string;
  data: { id: number; time: string; type: string; target: string; data: Record<string, any> };
}

/** A minimal EventSource: parses `id:`/`event:`/`data:` blocks and `:` comments from a raw response. */
class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  raw = '';
  ended = false;
  private buffer = '';
  private constructor(
    readonly res: IncomingMessage,
    private readonly abort: () => void,
  ) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => this.feed(chunk));
    res.on('end', () => (this.ended = true));
    res.on('close', () => (this.ended = true));
    res.on('error', () => (this.ended = true));
  }

  /** Opens a stream; resolves with the response (any status) once its headers are in. */
  static open(base: string, path: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${base}${path}`, { headers: { accept: 'text/event-stream', ...headers }, agent: false });
      req.on('response', (res) => resolve(new SseClient(res, () => req.destroy())));
      req.on('error', reject);
      req.end();
    });
  }

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  private feed(chunk: string): void {
    this.raw += chunk;
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const fields: Record<string, string> = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
        else if (line) {
          const at = line.indexOf(':');
          const key = line.slice(0, at);
          const value = line.slice(at + 1).replace(/^ /, '');
          fields[key] = key in fields ? `${fields[key]}\n${value}` : value;
        }
      }
      if (fields.data !== undefined) this.events.push({ id: fields.id ?? '', event: fields.event ?? 'message', data: JSON.parse(fields.data) });
    }
  }

  async next(match: (e: SseEvent) => boolean, timeoutMs = 15_000): Promise<SseEvent> {
    let found: SseEvent | undefined;
    await waitFor(async () => (found = this.events.find(match)) !== undefined, timeoutMs, 50).catch(() => {
      throw new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(this.events.map((e) => [e.event, e.data.target]))}`);
    });
    return found!;
  }

  async body(): Promise<unknown> {
    await waitFor(async () => this.ended, 5000, 20);
    return JSON.parse(this.raw);
  }

  close(): void {
    this.abort();
  }
}

/** A graphql-ws client; collects each subscription's messages. */
function wsClient(url: string, token: string | undefined): Client {
  return createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: token === undefined ? {} : { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
  });
}

interface Subscribed {
  results: { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, any> }[] }[];
  error: unknown;
  completed: boolean;
  stop: () => void;
}

function subscribe(client: Client, query: string, variables?: Record<string, unknown>): Subscribed {
  const s: Subscribed = { results: [], error: undefined, completed: false, stop: () => undefined };
  s.stop = client.subscribe(
    { query, variables },
    {
      next: (r) => s.results.push(r as Subscribed['results'][number]),
      error: (e) => {
        s.error = e;
        s.completed = true;
      },
      complete: () => (s.completed = true),
    },
  );
  return s;
}

const EVENT_FIELDS = 'id time type target data';
const runTag = randomBytes(3).toString('hex');

describe('events', () => {
  let t: TestApp;
  let base: string;
  let wsUrl: string;
  let cg: TestCgroup;
  let service: EventsService;
  const containers: TestContainer[] = [];
  const streams: SseClient[] = [];
  const clients: Client[] = [];
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const open = async (path: string, token: string, headers: Record<string, string> = {}) => {
    const c = await SseClient.open(base, path, { ...bearer(token), ...headers });
    streams.push(c);
    return c;
  };
  const run = async (name: string, args: string[]) => {
    const c = await runContainer(`${name}-${runTag}`, args);
    containers.push(c);
    return c;
  };
  const gql = (token?: string) => {
    const c = wsClient(`${wsUrl}/graphql`, token);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    cg = makeTestCgroup(`events-${runTag}`);
    t = await startTestApp({ NSGATE_MANAGED_CGROUPS: cg.path });
    service = t.app.get(EventsService);
    const where = await listen(t);
    base = where.http;
    wsUrl = where.ws;
  });

  afterAll(async () => {
    for (const s of streams) s.close();
    for (const c of clients) await c.dispose();
    for (const c of containers) await removeContainer(c.id).catch(() => undefined);
    await t?.close();
    cg?.remove();
  });

  it('refuses without a token (401) and unknown types (400), as JSON errors', async () => {
    const anonymous = await SseClient.open(base, '/v1/events');
    expect(anonymous.status).toBe(401);
    expect(await anonymous.body()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    const unknown = await SseClient.open(base, '/v1/events', bearer('nsg_not-a-real-token'));
    expect(unknown.status).toBe(401);
    const badType = await SseClient.open(base, '/v1/events?type=container.start,container.explode', bearer(t.tokens.viewer));
    expect(badType.status).toBe(400);
    expect(await badType.body()).toMatchObject({ error: { code: 'VALIDATION_FAILED', details: { unknown: ['container.explode'] } } });
    const badId = await SseClient.open(base, '/v1/events', { ...bearer(t.tokens.viewer), 'last-event-id': 'abc' });
    expect(badId.status).toBe(400);
  });

  it('streams a container start and die from the engine, with id:, event: and data: lines', async () => {
    const sse = await open('/v1/events?type=container.start,container.die&target=container:', t.tokens.viewer);
    expect(sse.status).toBe(200);
    expect(sse.res.headers['content-type']).toMatch(/^text\/event-stream/);
    const c = await run('ev-life', [TEST_IMAGE, 'sleep', '600']);
    const start = await sse.next((e) => e.event === 'container.start' && e.data.target === `container:${c.id}`);
    expect(start.data.data).toMatchObject({ name: c.name, image: TEST_IMAGE });
    expect(start.id).toBe(String(start.data.id));
    const block = sse.raw.split('\n\n').find((b) => b.includes(`id: ${start.id}\n`))!;
    expect(block.split('\n').filter(Boolean).sort()).toEqual([`data: ${JSON.stringify(start.data)}`, 'event: container.start', `id: ${start.id}`]);
    await docker(['kill', c.id]);
    const die = await sse.next((e) => e.event === 'container.die' && e.data.target === `container:${c.id}`);
    expect(die.data.data.exitCode).toBe(137);
    expect(die.data.id).toBeGreaterThan(start.data.id);
    // the filter held: nothing but starts and dies of containers
    expect(sse.events.every((e) => ['container.start', 'container.die'].includes(e.event) && e.data.target.startsWith('container:'))).toBe(true);
  });

  it('reports a real OOM: the engine\'s container.oom and the cgroup\'s oom_kill counter', async () => {
    const sse = await open('/v1/events', t.tokens.viewer);
    await waitFor(async () => service.status().oomWatching);
    // the inner shell holds 50 MB in a variable under an 8 MiB limit: the kernel kills it,
    // the outer shell (the container's init) lives on, so the cgroup stays to be read
    const c = await run('ev-oom', ['--memory', '8m', TEST_IMAGE, 'sh', '-c', "sh -c 'x=$(yes | head -c 50000000)'; echo survived; sleep 600"]);
    const oom = await sse.next((e) => e.event === 'container.oom' && e.data.target === `container:${c.id}`);
    expect(oom.data.data.name).toBe(c.name);
    const kill = await sse.next((e) => e.event === 'cgroup.oom_kill' && e.data.data.containerId === c.id);
    expect(kill.data.target).toMatch(new RegExp(`^cgroup:/.*${c.id}`));
    expect(kill.data.data.kills).toBeGreaterThanOrEqual(1);
    expect(kill.data.data.total).toBeGreaterThanOrEqual(kill.data.data.kills);
    expect(kill.data.data.containerName).toBe(c.name);
    await waitFor(async () => (await docker(['logs', c.id])).includes('survived'));
  });

  it('publishes limits.changed for a managed cgroup changed through the API, with before and after as the kernel has them', async () => {
    const sse = await open(`/v1/events?type=limits.changed&target=cgroup:${encodeURIComponent(cg.path)}`, t.tokens.viewer);
    const res = await t
      .http()
      .patch(`/v1/cgroups${cg.path}/-/limits`)
      .set(bearer(t.tokens.operator))
      .send({ memory: { max: '64M' } });
    expect(res.status).toBe(200);
    const e = await sse.next((x) => x.event === 'limits.changed');
    expect(e.data.target).toBe(`cgroup:${cg.path}`);
    expect(e.data.data).toMatchObject({ action: 'cgroup.limits', requestId: res.headers['x-request-id'], after: { memory: { max: 64 * 1024 * 1024 } } });
    expect(e.data.data.before).toEqual(res.body.before);
    expect(e.data.data.after).toEqual(res.body.after);
    // who did it is the audit log's (admins only), not every viewer's
    expect(JSON.stringify(e.data)).not.toContain('ops');
  });

  it('names a container by its full id in limits.changed, even when it was changed by name', async () => {
    const c = await run('ev-limits', [TEST_IMAGE, 'sleep', '600']);
    const sse = await open('/v1/events?type=limits.changed&target=container:', t.tokens.viewer);
    const res = await t.http().patch(`/v1/containers/${c.name}/limits`).set(bearer(t.tokens.operator)).send({ memory: '32M' });
    expect(res.status).toBe(200);
    const e = await sse.next((x) => x.data.target === `container:${c.id}`);
    expect(e.data.data).toMatchObject({ action: 'container.limits', name: c.name, after: { memory: { max: 32 * 1024 * 1024 } } });
  });

  it('replays what a client missed after its Last-Event-ID, filtered, then goes on live', async () => {
    const first = await open(`/v1/events?type=limits.changed&target=cgroup:${encodeURIComponent(cg.path)}`, t.tokens.viewer);
    const patch = (max: string) => t.http().patch(`/v1/cgroups${cg.path}/-/limits`).set(bearer(t.tokens.operator)).send({ pids: { max } });
    expect((await patch('100')).status).toBe(200);
    expect((await patch('200')).status).toBe(200);
    const a = await first.next((e) => e.data.data.after?.pids?.max === 100);
    const b = await first.next((e) => e.data.data.after?.pids?.max === 200);
    first.close();
    const again = await open(`/v1/events?type=limits.changed&target=cgroup:${encodeURIComponent(cg.path)}`, t.tokens.viewer, { 'last-event-id': a.id });
    const replayed = await again.next(() => true);
    expect(replayed.id).toBe(b.id);
    // the query form works too, for clients that cannot set headers
    const byQuery = await open(`/v1/events?type=limits.changed&lastEventId=${a.id}`, t.tokens.viewer);
    expect((await byQuery.next(() => true)).id).toBe(b.id);
    expect((await patch('300')).status).toBe(200);
    const live = await again.next((e) => e.data.data.after?.pids?.max === 300);
    expect(Number(live.id)).toBeGreaterThan(Number(b.id));
    expect(again.events.map((e) => e.id)).toEqual([b.id, live.id]);
  });

  it('sends heartbeat comments on a quiet stream', async () => {
    const before = service.settings.heartbeatMs;
    service.settings.heartbeatMs = 100;
    try {
      const sse = await open('/v1/events?type=container.oom&target=container:none', t.tokens.viewer);
      await waitFor(async () => sse.comments.filter((c) => c === 'heartbeat').length >= 2, 5000, 20);
      expect(sse.events).toEqual([]);
    } finally {
      service.settings.heartbeatMs = before;
    }
  });

  it('caps open streams per caller (429 RATE_LIMITED), and frees a slot when a client goes away', async () => {
    for (const s of streams) s.close();
    await waitFor(async () => Object.keys(service.status().streams).length === 0);
    const mine: SseClient[] = [];
    for (let i = 0; i < service.settings.maxStreamsPerCaller; i++) {
      const s = await open('/v1/events', t.tokens.viewer);
      expect(s.status).toBe(200);
      mine.push(s);
    }
    const refused = await SseClient.open(base, '/v1/events', bearer(t.tokens.viewer));
    expect(refused.status).toBe(429);
    expect(await refused.body()).toMatchObject({ error: { code: 'RATE_LIMITED', details: { limit: service.settings.maxStreamsPerCaller } } });
    // another caller has a budget of its own
    expect((await open('/v1/events', t.tokens.operator)).status).toBe(200);
    mine[0]!.close();
    await waitFor(async () => service.status().streams['sse:grafana'] === service.settings.maxStreamsPerCaller - 1);
    expect((await open('/v1/events', t.tokens.viewer)).status).toBe(200);
    for (const s of streams) s.close();
    // every disconnect released its slot, and the OOM watch stopped with the last listener
    await waitFor(async () => Object.keys(service.status().streams).length === 0 && !service.status().oomWatching);
  });

  describe('GraphQL subscriptions over graphql-ws', () => {
    it('refuses a connection without a token or with an unknown one (4403)', async () => {
      for (const token of [undefined, 'nsg_not-a-real-token']) {
        const s = subscribe(gql(token), `subscription { events { ${EVENT_FIELDS} } }`);
        await waitFor(async () => s.completed);
        expect((s.error as { code?: number }).code).toBe(4403);
        expect(s.results).toEqual([]);
      }
    });

    it('delivers events to a viewer, filtered by type and target', async () => {
      const client = gql(t.tokens.viewer);
      const s = subscribe(client, `subscription($t: String) { events(types: ["container.start"], target: $t) { ${EVENT_FIELDS} } }`, { t: 'container:' });
      await waitFor(async () => Object.keys(service.status().streams).some((k) => k.startsWith('graphql:')));
      const c = await run('ev-gql', [TEST_IMAGE, 'sleep', '600']);
      await waitFor(async () => s.results.some((r) => r.data?.events?.target === `container:${c.id}`));
      const got = s.results.find((r) => r.data?.events?.target === `container:${c.id}`)!.data!.events;
      expect(got).toMatchObject({ type: 'container.start', data: { name: c.name } });
      expect(typeof got.id).toBe('number');
      expect(s.results.every((r) => r.data?.events?.type === 'container.start')).toBe(true);
      s.stop();
      await waitFor(async () => !Object.keys(service.status().streams).some((k) => k.startsWith('graphql:')));
    });

    it('refuses bad arguments with our codes', async () => {
      const client = gql(t.tokens.viewer);
      const bad = subscribe(client, 'subscription { events(types: ["nope"]) { id } }');
      const slow = subscribe(client, 'subscription { containerStats(id: "x", intervalMs: 100) { readAt } }');
      const missing = subscribe(client, 'subscription { containerStats(id: "no-such-container-here") { readAt } }');
      await waitFor(async () => bad.completed && slow.completed && missing.completed);
      expect(bad.results[0]?.errors?.[0]?.extensions?.code).toBe('VALIDATION_FAILED');
      expect(slow.results[0]?.errors?.[0]?.extensions?.code).toBe('VALIDATION_FAILED');
      expect(missing.results[0]?.errors?.[0]?.extensions?.code).toBe('CONTAINER_NOT_FOUND');
    });

    it('ticks containerStats every intervalMs, and ends with CONFLICT when the container stops', async () => {
      const c = await run('ev-stats', [TEST_IMAGE, 'sleep', '600']);
      const s = subscribe(gql(t.tokens.viewer), 'subscription($id: String!) { containerStats(id: $id, intervalMs: 500) { id name memory { usage } pids { current } readAt } }', { id: c.name });
      await waitFor(async () => s.results.length >= 3, 10_000);
      const ticks = s.results.slice(0, 3).map((r) => r.data!.containerStats);
      expect(ticks.every((x) => x.id === c.id && x.memory.usage > 0 && x.pids.current >= 1)).toBe(true);
      const gaps = ticks.slice(1).map((x, i) => Date.parse(x.readAt) - Date.parse(ticks[i]!.readAt));
      expect(gaps.every((g) => g >= 400 && g < 2500)).toBe(true);
      await docker(['kill', c.id]);
      await waitFor(async () => s.completed, 10_000);
      const last = s.results[s.results.length - 1]!;
      expect(last.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    });

    it('answers a subscription sent as a plain POST with an error pointing to graphql-ws', async () => {
      const res = await t.graphql('subscription { events { id } }', t.tokens.viewer);
      expect(res.body.errors?.[0]?.extensions?.code).toBe('VALIDATION_FAILED');
      expect(res.body.errors?.[0]?.message).toMatch(/graphql-ws/);
      expect(service.status().streams).toEqual({});
    });

    it('bounds the subscriptions of one connection', async () => {
      const client = gql(t.tokens.viewer);
      const max = service.settings.maxSubscriptionsPerConnection;
      const held = Array.from({ length: max }, () => subscribe(client, 'subscription { events(types: ["container.oom"]) { id } }'));
      await waitFor(async () => Object.entries(service.status().streams).some(([k, n]) => k.startsWith('graphql:') && n === max));
      const extra = subscribe(client, 'subscription { events { id } }');
      await waitFor(async () => extra.completed);
      expect(extra.results[0]?.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
      // another connection has its own budget
      const other = subscribe(gql(t.tokens.viewer), 'subscription { events(types: ["container.oom"]) { id } }');
      await waitFor(async () => Object.entries(service.status().streams).some(([k, n]) => k.startsWith('graphql:') && n === 1));
      expect(other.completed).toBe(false);
      for (const h of [...held, other]) h.stop();
      await waitFor(async () => Object.keys(service.status().streams).length === 0);
    });
  });
});

/** A unix socket forwarding to the real engine, that can be taken away (connections cut) and brought back. */
class EngineProxy {
  private server: Server | undefined;
  private readonly open = new Set<Socket>();
  constructor(
    readonly path: string,
    private readonly upstream: string,
  ) {}
  async up(): Promise<void> {
    this.server = createServer((client) => {
      const engine = connect(this.upstream);
      this.open.add(client).add(engine);
      client.pipe(engine).pipe(client);
      const end = () => {
        client.destroy();
        engine.destroy();
        this.open.delete(client);
        this.open.delete(engine);
      };
      client.on('error', end).on('close', end);
      engine.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.path, resolve));
  }
  async down(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }
}

describe('events while the engine goes away and comes back', () => {
  let t: TestApp;
  let dir: string;
  let proxy: EngineProxy;
  let c: TestContainer | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsgate-events-engine-'));
    proxy = new EngineProxy(join(dir, 'docker.sock'), dockerHost().replace(/^unix:\/\//, ''));
    await proxy.up();
    t = await startTestApp({ DOCKER_HOST: `unix://${proxy.path}` });
  });
  afterAll(async () => {
    if (c) await removeContainer(c.id).catch(() => undefined);
    await t?.close();
    await proxy?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps serving, reconnects on its own, and replays what happened meanwhile', async () => {
    const { http } = await listen(t);
    const sse = await SseClient.open(http, '/v1/events?type=container.start', { authorization: `Bearer ${t.tokens.viewer}` });
    expect(sse.status).toBe(200);
    await proxy.down();
    // started while nsgate cannot see the engine
    c = await runContainer(`ev-away-${runTag}`, [TEST_IMAGE, 'sleep', '600']);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await t.http().get('/healthz')).status).toBe(200);
    expect(sse.ended).toBe(false);
    expect(sse.events).toEqual([]);
    await proxy.up();
    const start = await sse.next((e) => e.data.target === `container:${c!.id}`, 40_000);
    expect(start.data.data.name).toBe(c.name);
    // delivered once, not again on a later reconnect's replay
    await new Promise((r) => setTimeout(r, 500));
    expect(sse.events.filter((e) => e.data.target === `container:${c!.id}`)).toHaveLength(1);
  });
});

describe('events at shutdown', () => {
  it('app.close() ends open SSE streams and subscriptions instead of hanging on them', async () => {
    const t = await startTestApp();
    try {
      const { http, ws } = await listen(t);
      const a = await SseClient.open(http, '/v1/events', { authorization: `Bearer ${t.tokens.viewer}` });
      const b = await SseClient.open(http, '/v1/events?type=limits.changed', { authorization: `Bearer ${t.tokens.admin}` });
      expect([a.status, b.status]).toEqual([200, 200]);
      const client = wsClient(`${ws}/graphql`, t.tokens.viewer);
      const s = subscribe(client, 'subscription { events { id } }');
      await waitFor(async () => Object.keys(t.app.get(EventsService).status().streams).length === 3);
      const started = Date.now();
      await t.close();
      expect(Date.now() - started).toBeLessThan(5000);
      await waitFor(async () => a.ended && b.ended && s.completed, 5000, 20);
      await client.dispose();
    } finally {
      await t.close().catch(() => undefined);
    }
  });
});
