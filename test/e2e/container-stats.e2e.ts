// Issue 13: a container's stats say what `docker stats` says, by its names. MEM USAGE is nsgate's
// memory.workingSet (usage minus inactive file), LIMIT the cgroup's limit or the host's memory
// when unlimited, MEM % memory.percent, NET I/O network.rxBytes / txBytes (the container's own
// network namespace, loopback left out), PIDS pids.current. REST and GraphQL agree.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.js';
import { docker, dockerJson, removeContainer, runContainer, TEST_IMAGE, type TestContainer } from './support/docker.js';

/** docker's sizes: "324KiB", "64MiB", "23.54GiB" (binary, 4 significant digits) or "1.2kB", "0B" (decimal, 3). */
function parseSize(text: string): number {
  const m = /^([\d.]+)\s*([a-zA-Z]*)$/.exec(text.trim());
  if (!m) throw new Error(`not a docker size: ${text}`);
  const units: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };
  const unit = units[m[2]!];
  if (unit === undefined) throw new Error(`unknown unit in ${text}`);
  return Number(m[1]) * unit;
}

interface DockerStatsLine {
  ID: string;
  Name: string;
  MemUsage: string;
  MemPerc: string;
  NetIO: string;
  PIDs: string;
}

interface Stats {
  memory: { usage: number; limit: number | null; workingSet: number; percent: number };
  network: { rxBytes: number; txBytes: number; rxPackets: number; txPackets: number } | null;
  pids: { current: number };
}

/** /proc/meminfo's MemTotal, read here on its own: the engine's limit of an unlimited container. */
function memTotal(): number {
  return Number(/^MemTotal:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024;
}

/** A size docker printed with `digits` significant digits, against the exact number: as close as its rounding allows, plus `slack`. */
function closeTo(printed: string, exact: number, slack: number): void {
  const value = parseSize(printed);
  const rounding = value * 5e-4 + 1; // half a unit in the 4th significant digit
  expect({ printed, exact, diff: Math.abs(value - exact) <= rounding + slack }).toEqual({ printed, exact, diff: true });
}

describe("container stats as docker stats shows them", () => {
  let t: TestApp;
  let limited: TestContainer;
  let unlimited: TestContainer;
  beforeAll(async () => {
    limited = await runContainer('metrics-stats-limited', ['--memory', '64m', TEST_IMAGE, 'sleep', '600']);
    unlimited = await runContainer('metrics-stats-unlimited', [TEST_IMAGE, 'sleep', '600']);
    // traffic on the container's loopback: docker stats does not count it, nor does nsgate
    await docker(['exec', unlimited.id, 'ping', '-c', '3', '-i', '0.2', '127.0.0.1']);
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
    for (const c of [limited, unlimited]) if (c) await removeContainer(c.id);
  });

  const stats = async (c: TestContainer): Promise<Stats> => {
    const res = await t.http().get(`/v1/containers/${c.name}/stats`).set('authorization', `Bearer ${t.tokens.viewer}`);
    expect(res.status).toBe(200);
    return res.body as Stats;
  };

  it('MEM USAGE / LIMIT, MEM %, NET I/O and PIDS match docker stats --no-stream', async () => {
    const before = { limited: await stats(limited), unlimited: await stats(unlimited) };
    const lines = await dockerJson<DockerStatsLine[] | DockerStatsLine>(['stats', '--no-stream', '--format', '{{json .}}', limited.id, unlimited.id]);
    const after = { limited: await stats(limited), unlimited: await stats(unlimited) };
    const byName = new Map((Array.isArray(lines) ? lines : [lines]).map((l) => [l.Name, l]));

    for (const [key, c] of [
      ['limited', limited],
      ['unlimited', unlimited],
    ] as const) {
      const line = byName.get(c.name)!;
      expect(line, c.name).toBeDefined();
      const [usage, limit] = line.MemUsage.split(' / ');
      const ours = after[key];
      // sleeping containers: their memory hardly moves; what moved between our two reads is the slack
      const moved = Math.abs(after[key].memory.workingSet - before[key].memory.workingSet) + 128 * 1024;
      closeTo(usage!, ours.memory.workingSet, moved);
      expect(ours.memory.workingSet).toBeLessThanOrEqual(ours.memory.usage);
      const effectiveLimit = key === 'limited' ? 64 * 1024 * 1024 : memTotal();
      closeTo(limit!, effectiveLimit, 0);
      expect(ours.memory.limit).toBe(key === 'limited' ? 64 * 1024 * 1024 : null);
      expect(ours.memory.percent).toBeCloseTo((ours.memory.workingSet / effectiveLimit) * 100, 6);
      const dockerPercent = Number(line.MemPerc.replace('%', ''));
      expect(Math.abs(dockerPercent - ours.memory.percent)).toBeLessThanOrEqual(0.005 + (moved / effectiveLimit) * 100);
      const [rx, tx] = line.NetIO.split(' / ');
      expect(ours.network).toMatchObject({ rxBytes: parseSize(rx!), txBytes: parseSize(tx!) });
      expect(Number(line.PIDs)).toBe(ours.pids.current);
    }
    // the ping did cross the container's loopback: counting it would have made NET I/O disagree
    const lo = readFileSync(`/proc/${unlimited.pid}/net/dev`, 'utf8')
      .split('\n')
      .find((l) => l.trim().startsWith('lo:'))!;
    expect(Number(lo.split(':')[1]!.trim().split(/\s+/)[0])).toBeGreaterThan(0);
    expect(after.unlimited.network).toEqual({ rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0, rxErrors: 0, txErrors: 0, rxDropped: 0, txDropped: 0 });
  });

  it('GraphQL answers the same fields as REST', async () => {
    const { status, body } = await t.graphql(
      `{ container(id: "${limited.name}") { stats { memory { usage limit workingSet percent } network { rxBytes txBytes rxPackets txPackets } pids { current } } } }`,
      t.tokens.viewer,
    );
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const gql = (body.data!.container as { stats: Stats }).stats;
    const rest = await stats(limited);
    expect(gql.memory.limit).toBe(rest.memory.limit);
    expect(Math.abs(gql.memory.workingSet - rest.memory.workingSet)).toBeLessThanOrEqual(256 * 1024);
    expect(gql.memory.percent).toBeCloseTo((gql.memory.workingSet / (64 * 1024 * 1024)) * 100, 6);
    expect(gql.network).toEqual({ rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 });
    expect(gql.pids.current).toBe(rest.pids.current);
  });
});
