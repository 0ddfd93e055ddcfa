#!/usr/bin/env node
// bench/history: what usage history costs. N cgroups (200 by default) are sampled once a second
// for --seconds by the same HistorySampler nsgate runs (over CgroupSystem.readStats, memory, cpu,
// pids and PSI), in this process, and the bench reports cpu time per round (as a share of one
// core), ms per cgroup read, and the memory the rings hold (stated: bytes per cgroup × count;
// measured: the growth of ArrayBuffer memory).
// Target (issue 15): history (+ triggers) for 200 cgroups ≤ 2 % of one core and ≤ 20 MiB.
//
// --mode containers (default): N busybox `sleep` containers on the private engine (names
// history-bench-<tag>-<i>, label nsgate.bench=<tag>), removed at the end, on an error, on a signal
// and on --timeout. --mode cgroups: N empty cgroups under /nsgate-bench-history-<tag>, removed alike.
//
// usage: node bench/history.mjs [--containers 200] [--seconds 30] [--mode containers|cgroups] [--parallel 6] [--build]
import { build, args, loadavg, log, onCleanup, randomTag, runBench, sleep, startBenchContainers, table, useEngine } from './lib.mjs';

const USAGE = 'node bench/history.mjs: cpu and memory of the usage history sampler over N cgroups';
const opts = args(
  {
    containers: { default: 200, min: 1, max: 1000, help: 'cgroups to sample' },
    seconds: { default: 30, min: 5, max: 600, help: 'sampling rounds (one a second)' },
    mode: { type: 'string', default: 'containers', help: 'containers (real containers on the private engine) or cgroups (empty cgroups)' },
    parallel: { default: 6, min: 1, max: 32, help: 'containers started at a time' },
    build: { type: 'boolean', default: true, help: 'npm run build first' },
  },
  USAGE,
);

await runBench('history', async () => {
  if (!['containers', 'cgroups'].includes(opts.mode)) throw new Error('--mode is containers or cgroups');
  await build({ skip: !opts.build });
  const { CgroupSystem } = await import('../dist/kernel/cgroups/system.js');
  const { HistorySampler } = await import('../dist/kernel/history/sampler.js');
  const { SERIES_BYTES, SERIES_BASE_BYTES, CHUNK_BYTES } = await import('../dist/kernel/history/series.js');
  const tag = randomTag();
  let paths;
  if (opts.mode === 'containers') {
    await useEngine();
    const started = await startBenchContainers({ count: opts.containers, parallel: opts.parallel, prefix: `history-bench-${tag}`, tag });
    log(`${opts.containers} containers started in ${(started.ms / 1000).toFixed(1)} s`);
    paths = started.ids.map((id) => `/docker/${id}`);
  } else {
    const parent = `/nsgate-bench-history-${tag}`;
    const system = CgroupSystem.fromHost({ managed: [parent] });
    onCleanup(`remove ${parent}`, async () => {
      for (const p of paths ?? []) await system.delete(p).catch(() => undefined);
      await system.delete(parent).catch((err) => log(`remove ${parent}: ${err.message}`));
    });
    paths = [];
    for (let i = 0; i < opts.containers; i++) {
      const p = `${parent}/c${i}`;
      await system.create(p);
      paths.push(p);
    }
  }
  const system = CgroupSystem.fromHost({});
  const groups = new Set(['memory', 'cpu', 'pids', 'pressure']);
  const buffersBefore = process.memoryUsage().arrayBuffers;
  const sampler = new HistorySampler({ readStats: (p) => system.readStats(p, groups), maxTracked: 1000 });
  sampler.setTracked(paths);
  const load = loadavg();
  const rounds = [];
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  for (let i = 0; i < opts.seconds; i++) {
    const t0 = performance.now();
    sampler.sampleAll();
    rounds.push(performance.now() - t0);
    await sleep(Math.max(0, 1000 - (performance.now() - t0)));
  }
  const cpu = process.cpuUsage(cpuStart);
  const wallMs = performance.now() - wallStart;
  const cpuShare = (cpu.user + cpu.system) / 1000 / wallMs;
  rounds.sort((a, b) => a - b);
  const median = rounds[Math.floor(rounds.length / 2)];
  const samples = paths.map((p) => sampler.series(p)?.samples ?? 0);
  const status = sampler.status();
  const mib = (b) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
  console.log(
    table(
      ['what', 'value'],
      [
        ['mode', `${opts.mode}, ${paths.length} cgroups, ${opts.seconds} rounds, load ${load.join(' ')}`],
        ['cpu, share of one core (1 round a second)', `${(cpuShare * 100).toFixed(1)} % (rounds that overran a second delay the next)`],
        ['cpu time per round', `${((cpu.user + cpu.system) / 1000 / opts.seconds).toFixed(1)} ms (${((cpu.user + cpu.system) / opts.seconds / paths.length).toFixed(0)} µs per cgroup)`],
        ['one round, median / max', `${median.toFixed(1)} ms / ${rounds.at(-1).toFixed(1)} ms`],
        ['one cgroup read (median round / cgroups)', `${((median / paths.length) * 1000).toFixed(0)} µs`],
        ['memory stated, now (rings made so far)', mib(status.bytes)],
        ['memory stated, a cgroup under an hour old × count', `${SERIES_BASE_BYTES + CHUNK_BYTES} B × ${paths.length} = ${mib((SERIES_BASE_BYTES + CHUNK_BYTES) * paths.length)}`],
        ['memory stated, 24 hours old (the most) × count', `${SERIES_BYTES} B × ${paths.length} = ${mib(SERIES_BYTES * paths.length)}`],
        ['memory measured: ArrayBuffer growth over the run', mib(process.memoryUsage().arrayBuffers - buffersBefore)],
        ['samples per cgroup, min', String(Math.min(...samples))],
      ],
    ),
  );
  return Math.min(...samples) >= opts.seconds - 1;
}, { timeoutS: 1200 });
