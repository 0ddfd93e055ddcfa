#!/usr/bin/env node
// bench/metrics: the cost of a Prometheus scrape of GET /metrics with N running containers (20 by
// default). Reports, per scrape, the time to the whole answer at the client and the server's own
// read of every container (nsgate_container_metrics_read_seconds), medians over --rounds scrapes,
// and checks that every one of the N containers has its cAdvisor series.
// Target (issue 13): 100 containers in at most 50 ms of server time.
//
// The containers (busybox `sleep 3600`, --network none, labels nsgate.test=1 and nsgate.bench=<tag>,
// names nsgate-bench-<tag>-<i>) are removed at the end, on an error, on SIGINT/SIGTERM/SIGHUP and on
// --timeout. See bench/README.md.
//
// usage: node bench/metrics.mjs [--rounds 20] [--containers 20] [--build]
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { args, build, loadavg, log, randomTag, rounded, runBench, sleep, startBenchContainers, startNsgate, summary, table, timed, useEngine, fmtMs } from './lib.mjs';

const USAGE = 'node bench/metrics.mjs: GET /metrics (cAdvisor series of every running container) with N containers';
const opts = args(
  {
    rounds: { default: 20, min: 1, max: 500, help: 'measured scrapes' },
    containers: { default: 20, min: 1, max: 150, help: 'containers to run' },
    parallel: { default: 4, min: 1, max: 10, help: 'containers started at a time' },
    interval: { default: 250, min: 0, max: 10_000, help: 'ms between scrapes' },
    timeout: { default: 900, min: 30, max: 86400, help: 'abort (and clean up) after this many seconds in all' },
    build: { type: 'boolean', default: false, help: 'npm run build first (npm run bench:* builds already)' },
  },
  USAGE,
);

/** utime + stime of a process in ms (fields 14 and 15 of /proc/PID/stat, in USER_HZ = 100 ticks). */
function cpuMsOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function main() {
  const loadBefore = loadavg();
  const tag = randomTag();
  await build({ skip: !opts.build });
  const engine = await useEngine();
  const { ids, ms: startMs } = await startBenchContainers({ count: opts.containers, parallel: opts.parallel, prefix: `nsgate-bench-${tag}`, tag });
  log(`${opts.containers} containers running (${(startMs / 1000).toFixed(1)} s to start); engine ${engine.version}`);
  const ns = await startNsgate({ managed: `/nsgate-bench-${tag}` });
  log(`nsgate pid ${ns.pid} on 127.0.0.1:${ns.port}`);

  const scrape = async () => {
    const { ms, value: res } = await timed(() => ns.http.ok('GET', '/metrics'));
    const text = res.body;
    const server = Number(/^nsgate_container_metrics_read_seconds (\S+)$/m.exec(text)?.[1]) * 1000;
    const seen = ids.filter((id) => text.includes(`container_cpu_usage_seconds_total{id="/docker/${id}"`)).length;
    const containers = text.match(/^container_last_seen\{/gm)?.length ?? 0;
    return { ms, server, seen, containers, bytes: Buffer.byteLength(text), series: text.split('\n').filter((l) => l && !l.startsWith('#')).length };
  };
  // the model lists the engine at start: wait until it holds every bench container
  for (let i = 0; i < 60 && (await scrape()).seen < ids.length; i++) await sleep(500);
  log('warm-up: 3 scrapes');
  for (let i = 0; i < 3; i++) await scrape();

  // nsgate's own background work (cpu sampler, model) over as long as the rounds will take, to subtract
  const t0 = Date.now();
  const c0 = cpuMsOf(ns.pid);
  const client = [];
  const server = [];
  let last;
  for (let i = 0; i < opts.rounds; i++) {
    last = await scrape();
    client.push(last.ms);
    server.push(last.server);
    if (opts.interval) await sleep(opts.interval);
  }
  const scrapeCpuMs = cpuMsOf(ns.pid) - c0;
  const wallMs = Date.now() - t0;
  const i0 = cpuMsOf(ns.pid);
  await sleep(wallMs);
  const idleCpuMs = cpuMsOf(ns.pid) - i0;
  const cpuPerScrape = Math.max(0, scrapeCpuMs - idleCpuMs) / opts.rounds;
  const loadAfter = loadavg();
  const c = summary(client);
  const s = summary(server);
  const ok = last.seen === ids.length;
  console.log(`\nbench/metrics: GET /metrics with ${ids.length} bench containers (${last.containers} running in all), ${opts.rounds} scrapes`);
  console.log(`load average ${loadBefore.join(' ')} before, ${loadAfter.join(' ')} after (${cpus().length} CPUs); ${last.series} samples, ${(last.bytes / 1024).toFixed(0)} KiB`);
  console.log('');
  console.log(
    table(
      ['per scrape', 'median ms', 'p10', 'p90', 'min', 'per container (median)'],
      [
        ['whole answer at the client', fmtMs(c.median), fmtMs(c.p10), fmtMs(c.p90), fmtMs(c.min), `${(c.median / last.containers).toFixed(2)} ms`],
        ["server's read of every container", fmtMs(s.median), fmtMs(s.p10), fmtMs(s.p90), fmtMs(s.min), `${(s.median / last.containers).toFixed(2)} ms`],
      ],
    ),
  );
  console.log(`nsgate cpu time per scrape: ${cpuPerScrape.toFixed(1)} ms (${scrapeCpuMs} ms during the scrapes, ${idleCpuMs} ms over as long idle; 10 ms ticks)`);
  console.log(`series present for ${last.seen}/${ids.length} bench containers`);
  console.log(
    JSON.stringify(
      rounded({ bench: 'metrics', time: new Date().toISOString(), node: process.version, cpus: cpus().length, containers: ids.length, running: last.containers, rounds: opts.rounds, loadavg: { before: loadBefore, after: loadAfter }, ms: { client: c, server: s, cpuPerScrape }, ok }),
    ),
  );
  return ok;
}

await runBench('bench/metrics', main, { timeoutS: opts.timeout });
