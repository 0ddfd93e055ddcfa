#!/usr/bin/env node
// bench/memory: nsgate's resident memory idle, under a burst of concurrent reads, and after it
// (issue 16 item 6: memory comes back after load). Reads VmRSS of the service's own pid.
//
//   npm run build && node bench/memory.mjs [--concurrency 1000] [--rounds 3] [--settle 60]
import { readFileSync } from 'node:fs';
import { args, build, log, runBench, sleep, startNsgate, table } from './lib.mjs';

const USAGE = 'node bench/memory.mjs: RSS of nsgate idle, during bursts of concurrent reads, and after';
const opts = args(
  {
    concurrency: { default: 1000, min: 1, max: 5000, help: 'requests in flight at once per burst' },
    rounds: { default: 3, min: 1, max: 20, help: 'bursts' },
    settle: { default: 60, min: 1, max: 600, help: 'seconds to watch RSS after the last burst' },
    timeout: { default: 900, min: 30, max: 86400, help: 'abort (and clean up) after this many seconds in all' },
    build: { type: 'boolean', default: false, help: 'npm run build first' },
  },
  USAGE,
);

const READS = ['/v1/processes?limit=500', '/v1/namespaces?limit=500', '/v1/cgroups?depth=3&limit=500', '/v1/containers', '/metrics', '/healthz'];
const mib = (kb) => Math.round(kb / 1024);
const rssKb = (pid) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const heapMib = async (svc) => {
  const res = await svc.http.request('GET', '/metrics');
  const m = /^nsgate_nodejs_heap_size_used_bytes (\d+)/m.exec(String(res.body));
  return m ? Math.round(Number(m[1]) / 2 ** 20) : NaN;
};
const threads = (pid) => Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

async function main() {
  await build({ skip: !opts.build });
  const svc = await startNsgate({ env: { NSGATE_RATE_LIMIT: '1000000' } });
  await sleep(3000);
  const rows = [['idle', mib(rssKb(svc.pid)), await heapMib(svc), threads(svc.pid)]];
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssKb(svc.pid))), 50);
  for (let round = 1; round <= opts.rounds; round++) {
    let failed = 0;
    await Promise.all(
      Array.from({ length: opts.concurrency }, (_, i) =>
        svc.http.request('GET', READS[i % READS.length]).then((r) => void (r.status >= 500 && failed++), () => void failed++),
      ),
    );
    rows.push([`after burst ${round} (${opts.concurrency} reads, ${failed} failed)`, mib(rssKb(svc.pid)), '', threads(svc.pid)]);
  }
  clearInterval(sampler);
  rows.push(['peak during bursts', mib(peak), '', '']);
  for (let s = 10; s <= opts.settle; s += 10) {
    await sleep(10_000);
    rows.push([`${s} s after`, mib(rssKb(svc.pid)), '', threads(svc.pid)]);
  }
  rows.push(['end (heap read through /metrics)', mib(rssKb(svc.pid)), await heapMib(svc), threads(svc.pid)]);
  log(`nsgate pid ${svc.pid}`);
  console.log(table(['when', 'RSS MiB', 'heap used MiB', 'threads'], rows));
  return true;
}

await runBench('memory', main, { timeoutS: opts.timeout });
