// Issue 13: GET /metrics holds cAdvisor's series for every running container and for the managed
// cgroups, with the values the REST routes read (network counters per interface, from a veth pair made
// inside a test container's own network namespace), and drops a container's series once it stops.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

  it("counts a container's own interfaces per interface, in /metrics and in its REST stats", async () => {
    // a veth pair inside the container's own (empty) network namespace: what one end sends the other
    // receives, and nothing leaves the namespace. The links go down before the reads, so the counters stand still.
    const net = await runContainer('metrics-net', [TEST_IMAGE, 'sleep', '600']);
    try {
      const inNs = (...argv: string[]) => execFileSync('nsenter', ['-t', String(net.pid), '-n', 'ip', ...argv], { stdio: 'pipe' });
      inNs('link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
      inNs('addr', 'add', '10.213.0.1/24', 'dev', 'v0');
      inNs('link', 'set', 'v0', 'up');
      inNs('link', 'set', 'v1', 'up');
      // nobody answers: the ARP requests for .2 go out of v0 into v1
      await docker(['exec', net.id, 'ping', '-c', '2', '-i', '0.5', '-W', '1', '10.213.0.2']).catch(() => undefined);
      inNs('link', 'set', 'v0', 'down');
      inNs('link', 'set', 'v1', 'down');
      const counters = new Map(
        readFileSync(`/proc/${net.pid}/net/dev`, 'utf8')
          .split('\n')
          .filter((l) => /^\s*v[01]:/.test(l))
          .map((l) => {
            const f = l.split(':')[1]!.trim().split(/\s+/).map(Number);
            return [l.split(':')[0]!.trim(), { rxBytes: f[0]!, rxPackets: f[1]!, txBytes: f[8]!, txPackets: f[9]! }] as const;
          }),
      );
      const v0 = counters.get('v0')!;
      const v1 = counters.get('v1')!;
      expect(v0.txPackets).toBeGreaterThan(0);
      expect(v1.rxPackets).toBeGreaterThan(0);

      const text = await scrape();
      const base = { id: `/docker/${net.id}`, name: net.name, image: TEST_IMAGE };
      const of = (name: string, iface: string) => family(text, name).find((s) => s.labels.id === base.id && s.labels.interface === iface);
      expect(of('container_network_transmit_packets_total', 'v0')).toEqual({ labels: { ...base, interface: 'v0' }, value: v0.txPackets });
      expect(of('container_network_transmit_bytes_total', 'v0')?.value).toBe(v0.txBytes);
      expect(of('container_network_receive_packets_total', 'v1')?.value).toBe(v1.rxPackets);
      expect(of('container_network_receive_bytes_total', 'v1')?.value).toBe(v1.rxBytes);
      // loopback is never a series
      expect(family(text, 'container_network_receive_bytes_total').filter((s) => s.labels.id === base.id).map((s) => s.labels.interface).sort()).toEqual(['v0', 'v1']);
      const stats = (await t.http().get(`/v1/containers/${net.name}/stats`).set(as(t.tokens.viewer))).body;
      expect(stats.network).toMatchObject({ txBytes: v0.txBytes + v1.txBytes, rxBytes: v0.rxBytes + v1.rxBytes, txPackets: v0.txPackets + v1.txPackets, rxPackets: v0.rxPackets + v1.rxPackets });
    } finally {
      await removeContainer(net.id);
    }
  });

  it('drops the series of a container that stopped', async () => {
    await docker(['stop', '-t', '0', db.id]);
    await waitFor(async () => !(await scrape()).includes(`id="/docker/${db.id}"`), 15_000, 250);
  });
});
