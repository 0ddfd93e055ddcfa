// The example tuner (examples/tuner.ts) against the real service and engine: it reads a container's
// stats, dry-runs a memory limit, applies it with If-Match, Idempotency-Key and ttlSeconds, watches
// and keeps the lease; docker inspect and the kernel hold the new limit, and no lease is left.
// Its types come only from the generated client: the example must type-check against the
// committed clients/nsgate-api.d.ts.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tuneMemory } from '../../examples/tuner.js';
import { startTestApp, type TestApp } from './support/app.js';
import { cgroupDir, cgroupHierarchies } from './support/cgroupfs.js';
import { listen } from './support/listen.js';
import { dockerJson, removeContainer, runContainer, TEST_IMAGE, type TestContainer } from './support/docker.js';

const MiB = 1024 * 1024;

describe('the example tuner', () => {
  let t: TestApp;
  let url: string;
  let c: TestContainer;

  beforeAll(async () => {
    // 24 MiB held in /dev/shm (shmem: charged to the container, never reclaimed as file cache), under a 256 MiB limit
    c = await runContainer('tuner', ['--memory', '256m', TEST_IMAGE, 'sh', '-c', 'head -c 25165824 /dev/zero > /dev/shm/held; sleep 600']);
    t = await startTestApp();
    url = (await listen(t)).http;
  });
  afterAll(async () => {
    await t?.close();
    if (c) await removeContainer(c.id);
  });

  it('type-checks against the generated client alone', async () => {
    await promisify(execFile)('npx', ['tsc', '-p', 'examples/tsconfig.json', '--noEmit'], { timeout: 120_000 });
  }, 150_000);

  it('lowers the limit toward the working set, with a lease it then keeps', async () => {
    const lines: string[] = [];
    await new Promise((r) => setTimeout(r, 1000)); // the shell fills /dev/shm
    const outcome = await tuneMemory({ baseUrl: url, token: t.tokens.operator, container: c.name, headroom: 1, ttlSeconds: 60, watchMs: 1000, log: (l) => lines.push(l) });
    expect(outcome.result, lines.join('\n')).toBe('kept');
    if (outcome.result !== 'kept') return;
    expect(outcome.before).toBe(256 * MiB);
    // the working set (24 MiB and a little) times 2, rounded up to a MiB
    expect(outcome.limit).toBeGreaterThanOrEqual(48 * MiB);
    expect(outcome.limit).toBeLessThan(64 * MiB);
    expect(lines.filter((l) => l.startsWith('plan')), lines.join('\n')).toContainEqual(expect.stringMatching(/^plan    [Mm]emory: 268435456 -> /));

    const [inspect] = await dockerJson<{ HostConfig: { Memory: number } }[]>(['inspect', c.id]);
    expect(inspect!.HostConfig.Memory).toBe(outcome.limit);
    const memory = cgroupHierarchies().find((h) => h.controllers.includes('memory'))!;
    expect(Number(readFileSync(`${cgroupDir(memory, `/docker/${c.id}`)}/memory.limit_in_bytes`, 'utf8'))).toBe(outcome.limit);
    // kept: no lease left to put the old limit back
    const leases = await t.http().get('/v1/leases').set('authorization', `Bearer ${t.tokens.viewer}`);
    expect(leases.body.items.filter((l: { target: string }) => l.target === `container:${c.id}`)).toEqual([]);
    // the container lives
    const [after] = await dockerJson<{ State: { Running: boolean; OOMKilled: boolean } }[]>(['inspect', c.id]);
    expect(after!.State).toMatchObject({ Running: true, OOMKilled: false });
  }, 60_000);

  it('changes nothing a second time: the limit already fits', async () => {
    const outcome = await tuneMemory({ baseUrl: url, token: t.tokens.operator, container: c.name, headroom: 1, watchMs: 0, log: () => undefined });
    expect(outcome.result).toBe('unchanged');
  });
});
