// Usage history and recommendations on the real kernel and engine: a container burning cpu
// under a tight quota is recorded as throttled and gets a higher quota recommended, with
// throttling as the reason; a sleeping container under a generous memory limit gets a lower
// one, never under its working-set peak plus headroom; a managed cgroup has history under the
// cgroup route; too little history is refused as confidence "none"; and history says it is
// in memory only.
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { HistoryService } from '../../src/history/history.service.js';
import { startTestApp, type TestApp, waitFor } from './support/app.js';
import { cgroupParent, makeTestCgroup, type TestCgroup } from './support/cgroups.js';
import { removeContainer, runContainer, TEST_IMAGE, type TestContainer } from './support/docker.js';
import { listen } from './support/listen.js';

const MiB = 1024 * 1024;
/** Seconds of history a recommendation needs (MIN_SAMPLES) plus a margin. */
const ENOUGH_SECONDS = 35;

describe('history and recommendations', () => {
  let t: TestApp;
  let burn: TestContainer;
  let idle: TestContainer;
  let group: TestCgroup;
  const made: string[] = [];
  const get = (url: string) => t.http().get(url).set('authorization', `Bearer ${t.tokens.viewer}`);
  let wsUrl: string;

  beforeAll(async () => {
    group = makeTestCgroup('history');
    t = await startTestApp({ NSGATE_MANAGED_CGROUPS: cgroupParent() });
    wsUrl = (await listen(t)).ws;
    // 0.05 cpus, which it would use many times over: throttled in most periods, even on a
    // machine busy enough that the loop gets only a part of one cpu
    burn = await runContainer('history-burn', ['--cpus', '0.05', '--memory', '64m', TEST_IMAGE, 'sh', '-c', 'while :; do :; done']);
    made.push(burn.id);
    idle = await runContainer('history-idle', ['--memory', '256m', TEST_IMAGE, 'sleep', '600']);
    made.push(idle.id);
    const history = t.app.get(HistoryService);
    await waitFor(async () => {
      history.follow();
      const s = history.sampler.series(`/docker/${burn.id}`);
      const i = history.sampler.series(`/docker/${idle.id}`);
      return s !== undefined && i !== undefined && s.samples > ENOUGH_SECONDS && i.samples > ENOUGH_SECONDS;
    }, 120_000, 1000);
  }, 180_000);

  afterAll(async () => {
    await t?.close();
    for (const id of made) await removeContainer(id);
    group?.remove();
  });

  it('records a throttled container per second, and says history is in memory only', async () => {
    const res = await get(`/v1/containers/${burn.name}/history?from=30s`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ target: `container:${burn.id}`, cgroupPath: `/docker/${burn.id}`, resolution: 'second', stepSeconds: 1, tracked: true });
    expect(res.body.note).toMatch(/no history across restarts/);
    expect(res.body.points.length).toBeGreaterThanOrEqual(30);
    const cpu = res.body.points.map((p: { cpu: { avg: number | null } }) => p.cpu.avg).filter((v: number | null) => v !== null);
    const throttled = res.body.points.map((p: { cpuThrottled: { avg: number | null } }) => p.cpuThrottled.avg).filter((v: number | null) => v !== null);
    expect(cpu.length).toBeGreaterThan(20);
    // never much above its 0.05-cpu quota, and well above idle
    expect(Math.max(...cpu)).toBeLessThan(0.1);
    expect(cpu.reduce((a: number, b: number) => a + b, 0) / cpu.length).toBeGreaterThan(0.02);
    expect(throttled.reduce((a: number, b: number) => a + b, 0) / throttled.length).toBeGreaterThan(0.3);
    expect(res.body.points[0].memoryUsage.avg).toBeGreaterThan(0);

    const coarse = await get(`/v1/containers/${burn.id}/history?from=2h&step=10m`);
    expect(coarse.status).toBe(200);
    expect(coarse.body).toMatchObject({ resolution: 'minute', stepSeconds: 600 });
    expect(coarse.body.points.at(-1).cpu.max).toBeGreaterThan(0.02);

    // what it holds is stated in /metrics
    const metrics = (await get('/metrics')).text;
    expect(Number(/^nsgate_history_cgroups (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
    expect(Number(/^nsgate_history_bytes (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(2 * 34_000);
  });

  it('recommends a higher quota for the throttled container, saying the quota is the cause', async () => {
    const res = await get(`/v1/containers/${burn.name}/recommendation`);
    expect(res.status).toBe(200);
    const cpu = res.body.cpu;
    expect(cpu.current).toEqual({ quotaUs: 5_000, periodUs: 100_000, weight: 100 });
    expect(cpu.limitIsCause).toBe(true);
    expect(cpu.recommended.quotaUs).toBeGreaterThanOrEqual(7_500);
    expect(cpu.recommended.quotaUs / 100_000).toBeGreaterThanOrEqual(cpu.evidence.usageCores.p95);
    expect(cpu.evidence.throttledShare).toBeGreaterThan(0.3);
    expect(cpu.reasons[0]).toMatch(/quota 0\.050 cores is the cause: throttled in/);
    expect(cpu.confidence).toBe('low');
    expect(res.body.applied).toBe(false);
  });

  it('recommends a lower memory limit for a container far under it, above its working-set peak plus headroom', async () => {
    const res = await get(`/v1/containers/${idle.id}/recommendation`);
    expect(res.status).toBe(200);
    const m = res.body.memory;
    expect(m.current.max).toBe(256 * MiB);
    expect(m.evidence.workingSetPeak).toBeGreaterThan(0);
    expect(m.recommended.max).toBeLessThan(256 * MiB);
    expect(m.recommended.max).toBeGreaterThanOrEqual(m.evidence.workingSetPeak + 16 * MiB);
    // cgroup v1 has no memory.high
    expect(m.recommended.high).toBeNull();
    expect(m.limitIsCause).toBe(false);
    expect(m.reasons[0]).toMatch(/× the working-set peak/);
  });

  it('serves a managed cgroup under the cgroup route, and refuses to recommend on too little history', async () => {
    const history = t.app.get(HistoryService);
    history.follow();
    const res = await get(`/v1/cgroups${group.path}/-/history?from=1m`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ target: `cgroup:${group.path}`, resolution: 'second' });
    // a generated client sends the path's slashes encoded in one segment: the same route
    const encoded = await get(`/v1/cgroups/${encodeURIComponent(group.path.slice(1))}/-/history?from=1m`);
    expect([encoded.status, encoded.body.target]).toEqual([200, `cgroup:${group.path}`]);
    // the cgroup itself still reads as before
    expect((await get(`/v1/cgroups${group.path}`)).body.path).toBe(group.path);

    const fresh = makeTestCgroup('history-new');
    try {
      history.follow();
      const rec = await get(`/v1/cgroups${fresh.path}/-/recommendation`);
      expect(rec.status).toBe(200);
      expect(history.sampler.series(fresh.path)!.samples).toBeLessThan(30);
      expect(rec.body.memory).toMatchObject({ confidence: 'none', recommended: null });
      expect(rec.body.memory.reasons[0]).toMatch(/at least 30 are needed/);
      expect(rec.body.cpu).toMatchObject({ confidence: 'none', recommended: null });
    } finally {
      fresh.remove();
    }
  });

  it('answers 404 for cgroups it keeps no history of, and 400 for a bad query', async () => {
    // the root exists but is neither a container nor managed; its {path} is "/" (encoded, or nothing before the "/-/")
    for (const url of ['/v1/cgroups/%2F/-/history', '/v1/cgroups//-/history', '/v1/cgroups/%2F/-/recommendation']) {
      const root = await get(url);
      expect([url, root.status, root.body.error.code]).toEqual([url, 404, 'NOT_FOUND']);
      expect(root.body.error.message).toMatch(/nsgate holds no history of \/: it keeps history of running containers and managed cgroups/);
    }
    // "/v1/cgroups/-/history" names a cgroup "/-/history" (a "/-/" splits only after a path)
    expect((await get('/v1/cgroups/-/history')).body.error).toMatchObject({ code: 'CGROUP_NOT_FOUND', details: { path: '/-/history' } });
    expect((await get(`/v1/cgroups${group.path}-nothing/-/history`)).body.error.code).toBe('CGROUP_NOT_FOUND');
    expect((await get(`/v1/containers/${burn.id}/history?from=yesterday`)).body.error.code).toBe('VALIDATION_FAILED');
    expect((await get(`/v1/containers/${burn.id}/history?step=0`)).status).toBe(400);
  });

  it('GraphQL: history and recommendation on container and cgroup', async () => {
    const q = `{ container(id: "${burn.id}") { history(from: "20s", step: "5s") { resolution stepSeconds points { at cpu { avg max } cpuThrottled { avg } } }
                 recommendation { cpu { limitIsCause confidence recommended { quotaUs periodUs } reasons } memory { confidence } } } }`;
    const res = await t.graphql(q, t.tokens.viewer);
    expect(res.body.errors).toBeUndefined();
    const c = res.body.data!.container as { history: { resolution: string; stepSeconds: number; points: unknown[] }; recommendation: { cpu: { limitIsCause: boolean; recommended: { quotaUs: number } } } };
    expect(c.history).toMatchObject({ resolution: 'second', stepSeconds: 5 });
    expect(c.history.points.length).toBeGreaterThanOrEqual(4);
    expect(c.recommendation.cpu.limitIsCause).toBe(true);
    expect(c.recommendation.cpu.recommended.quotaUs).toBeGreaterThanOrEqual(7_500);
    const cg = await t.graphql(`{ cgroup(path: "${group.path}") { path history(from: "1m") { target } } }`, t.tokens.viewer);
    expect(cg.body.errors).toBeUndefined();
    expect((cg.body.data!.cgroup as { history: { target: string } }).history.target).toBe(`cgroup:${group.path}`);
  });

  it('the containerStats subscription starts from history with since, then goes live', async () => {
    const client = createClient({ url: `${wsUrl}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${t.tokens.viewer}` }, retryAttempts: 0, lazy: true });
    const got: { readAt: string; fromHistory: boolean; cpu: { percent: number | null } }[] = [];
    let error: unknown;
    const stop = client.subscribe(
      { query: 'subscription($id: String!) { containerStats(id: $id, intervalMs: 500, since: "20s") { readAt fromHistory cpu { percent } memory { usage } } }', variables: { id: burn.id } },
      { next: (r) => void (r.data && got.push(r.data.containerStats as (typeof got)[number])), error: (e) => void (error = e), complete: () => undefined },
    );
    try {
      await waitFor(async () => got.some((g) => !g.fromHistory) || error !== undefined, 20_000);
      expect(error).toBeUndefined();
      const replayed = got.filter((g) => g.fromHistory);
      expect(replayed.length).toBeGreaterThanOrEqual(15);
      expect(replayed.length).toBeLessThanOrEqual(21);
      // oldest first, one second apart, all before the first live reading
      const times = got.map((g) => Date.parse(g.readAt));
      for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThan(times[i - 1]!);
      expect(got.findIndex((g) => !g.fromHistory)).toBe(replayed.length);
      expect(replayed.filter((g) => g.cpu.percent !== null).every((g) => g.cpu.percent! < 10)).toBe(true);
    } finally {
      stop();
      await client.dispose();
    }
  });
});
