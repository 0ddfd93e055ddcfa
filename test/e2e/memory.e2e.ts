// Memory comes back after load (issue 16, item 6): the built service, a burst of concurrent reads,
// then quiet. V8 alone keeps the burst's garbage until its own next collection, however long that is.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from './support/service.js';

const heapUsed = async (svc: RunningService, token: string): Promise<number> => {
  const text = await (await fetch(`${svc.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  return Number(/^nsgate_nodejs_heap_size_used_bytes (\d+)/m.exec(text)![1]);
};
const rssOf = (pid: number): number => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

describe('memory after load', () => {
  let svc: RunningService | undefined;
  afterAll(async () => {
    await svc?.stop('SIGKILL');
    if (svc) rmSync(svc.dataDir, { recursive: true, force: true });
  });

  it('gives the heap of a burst of reads back once requests stop', async () => {
    svc = await startService({ NSGATE_RATE_LIMIT: '1000000', DOCKER_HOST: 'unix:///nonexistent/nsgate-memory.sock' });
    const token = readFileSync(join(svc.dataDir, 'admin.token'), 'utf8').trim();
    const headers = { authorization: `Bearer ${token}` };
    const reads = ['/v1/processes?limit=5000', '/v1/namespaces?limit=5000', '/v1/cgroups?depth=3&limit=1000', '/metrics'];
    const before = { heap: await heapUsed(svc, token), rss: rssOf(svc.child.pid!) };
    let peakHeap = 0;
    // bursts until the heap holds 40 MiB more than idle (or 8 bursts): a load worth giving back
    for (let round = 0; round < 8 && peakHeap - before.heap < 40 * 1024 * 1024; round++) {
      await Promise.all(Array.from({ length: 400 }, (_, i) => fetch(`${svc!.url}${reads[i % reads.length]}`, { headers }).then((r) => r.arrayBuffer())));
      peakHeap = Math.max(peakHeap, await heapUsed(svc, token));
    }
    const loadedRss = rssOf(svc.child.pid!);
    // the burst really grew the heap, or this test would prove nothing
    expect(peakHeap - before.heap).toBeGreaterThan(32 * 1024 * 1024);

    // one quiet stretch, a little longer than the 5 s nsgate waits for, then one look: the heap
    // is back near where it started (without the idle collection it still held the burst: checked)
    await new Promise((r) => setTimeout(r, 7000));
    const heap = await heapUsed(svc, token);
    expect(heap).toBeLessThan(before.heap + (peakHeap - before.heap) / 2);
    // and the process gives pages back too (not all: V8 and malloc keep some)
    expect(rssOf(svc.child.pid!)).toBeLessThan(loadedRss);
  });
});
