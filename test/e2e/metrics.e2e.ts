// Issue 13: GET /metrics holds cAdvisor's series for every running container and for the managed
// cgroups, with the values the REST routes read, and drops a container's series once it stops.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, waitFor, type TestApp } from './support/app.js';
import { makeTestCgroup, type TestCgroup } from './support/cgroups.js';
import { docker, removeContainer, runContainer, TEST_IMAGE, type TestContainer } from './support/docker.js';

/** `name{labels} value` lines of one family, as { labels, value }. */
function family(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^[a-z_]+(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[1] ?? '').matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    out.push({ labels, value: Number(m[2]) });
  }
  return out;
}

describe('GET /metrics: cAdvisor series', () => {
  let t: TestApp;
  let root: TestCgroup;
  let db: TestContainer;
  beforeAll(async () => {
    root = makeTestCgroup('metrics');
    db = await runContainer('metrics-db', ['--memory', '32m', '--cpus', '0.5', '--pids-limit', '40', TEST_IMAGE, 'sleep', '600']);
    t = await startTestApp({ NSGATE_MANAGED_CGROUPS: root.path });
  });
  afterAll(async () => {
    await t?.close();
    if (db) await removeContainer(db.id);
    root?.remove();
  });
  const scrape = async () => (await t.http().get('/metrics').set('authorization', `Bearer ${t.tokens.viewer}`)).text;
  const as = (token: string) => ({ authorization: `Bearer ${token}` });

  it("a container's series carry id (its cgroup), name and image, and its limits as the kernel holds them", async () => {
    const text = await scrape();
    const labels = { id: `/docker/${db.id}`, name: db.name, image: TEST_IMAGE };
    const one = (name: string) => family(text, name).filter((s) => s.labels.id === labels.id);
    expect(one('container_last_seen')).toEqual([{ labels, value: expect.any(Number) }]);
    expect(one('container_spec_memory_limit_bytes')[0]!.value).toBe(32 * 1024 * 1024);
    expect(one('container_spec_cpu_quota')[0]!.value).toBe(50_000);
    expect(one('container_spec_cpu_period')[0]!.value).toBe(100_000);
    expect(one('container_spec_cpu_shares')[0]!.value).toBe(1024);
    expect(one('container_threads_max')[0]!.value).toBe(40);
    expect(one('container_processes')[0]!.value).toBe(1);
    expect(one('container_cpu_usage_seconds_total')[0]!.labels.cpu).toBe('total');
    // the start time is init's: within the minute the test has run
    expect(Math.abs(one('container_start_time_seconds')[0]!.value - Date.now() / 1000)).toBeLessThan(300);
    // the stats route and the series read the same files
    const stats = (await t.http().get(`/v1/containers/${db.name}/stats`).set(as(t.tokens.viewer))).body;
    expect(one('container_memory_working_set_bytes')[0]!.value).toBeLessThanOrEqual(stats.memory.usage + 256 * 1024);
    expect(Math.abs(one('container_memory_working_set_bytes')[0]!.value - stats.memory.workingSet)).toBeLessThanOrEqual(256 * 1024);
    // --network none: only loopback, which is left out, so no network series
    expect(one('container_network_receive_bytes_total')).toEqual([]);
    expect(family(text, 'machine_cpu_cores')[0]!.value).toBeGreaterThan(0);
  });

  it('a managed cgroup has series labelled by its path, name and image empty', async () => {
    const path = `${root.path}/batch`;
    const made = await t.http().put(`/v1/cgroups${path}`).set(as(t.tokens.operator)).send({ limits: { memory: { max: '16M' }, pids: { max: 7 } } });
    expect(made.status).toBe(200);
    const text = await scrape();
    const limit = family(text, 'container_spec_memory_limit_bytes').find((s) => s.labels.id === path);
    expect(limit).toEqual({ labels: { id: path, name: '', image: '' }, value: made.body.limits.memory.max });
    expect(family(text, 'container_threads_max').find((s) => s.labels.id === path)?.value).toBe(7);
    expect(family(text, 'container_spec_memory_limit_bytes').find((s) => s.labels.id === root.path)?.value).toBe(0);
  });

  it('drops the series of a container that stopped', async () => {
    await docker(['stop', '-t', '0', db.id]);
    await waitFor(async () => !(await scrape()).includes(`id="/docker/${db.id}"`), 15_000, 250);
  });
});
