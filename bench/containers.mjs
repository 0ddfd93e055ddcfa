#!/usr/bin/env node
// bench/containers: live stats of N running containers (20 by default), nsgate vs the Docker Engine.
//   (a) one bulk GET /v1/containers?stats=true                 vs  docker stats --no-stream <the N ids> (one run)
//   (b) N single GET /v1/containers/{id}/stats, sequential and concurrent
//   (c) one container: GET /v1/containers/{id}/stats           vs  the engine's GET /containers/{id}/stats?stream=false
// Medians over --rounds rounds, in rotating order. Then a correctness check: nsgate's memory usage
// of each container against docker stats' MEM USAGE (and the engine's own bytes), cpu percent a number.
// Target (issue 5): the bulk call under 1/100 of docker stats.
//
// The containers (busybox `sleep 3600`, --network none, labels nsgate.test=1 and nsgate.bench=<tag>,
// names nsgate-bench-<tag>-<i>) are removed at the end, on an error, on SIGINT/SIGTERM/SIGHUP and on
// --timeout. See bench/README.md.
//
// usage: node bench/containers.mjs [--rounds 5] [--containers 20] [--build]
import { cpus } from 'node:os';
import {
  aborted,
  args,
  build,
  docker,
  engineClient,
  fmtMs,
  fmtRatio,
  loadavg,
  log,
  onCleanup,
  randomTag,
  rounded,
  runBench,
  sleep,
  startBenchContainers,
  startNsgate,
  summary,
  table,
  timed,
  useEngine,
} from './lib.mjs';

const USAGE = 'node bench/containers.mjs: container stats through nsgate vs docker stats and the Docker Engine API';
const opts = args(
  {
    rounds: { default: 5, min: 1, max: 50, help: 'measured rounds (docker stats takes ~2 s each)' },
    containers: { default: 20, min: 1, max: 60, help: 'containers to run' },
    parallel: { default: 4, min: 1, max: 10, help: 'containers started at a time' },
    tolerance: { default: 5, min: 1, max: 50, help: 'memory usage check: largest allowed difference, %' },
    timeout: { default: 900, min: 30, max: 86400, help: 'abort (and clean up) after this many seconds in all' },
    build: { type: 'boolean', default: false, help: 'npm run build first (npm run bench:* builds already)' },
  },
  USAGE,
);

const UNITS = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4, kB: 1e3, MB: 1e6, GB: 1e9 };
/** "452KiB / 23.47GiB" -> 462848 (the usage part). */
function parseDockerBytes(text) {
  const m = /^\s*([\d.]+)\s*([A-Za-z]+)/.exec(text ?? '');
  if (!m || !(m[2] in UNITS)) return NaN;
  return Number(m[1]) * UNITS[m[2]];
}
/** docker stats' own rounding: it prints 3-4 significant figures, so allow half a unit of the last one. */
function dockerRounding(text) {
  const m = /^\s*([\d.]+)\s*([A-Za-z]+)/.exec(text ?? '');
  if (!m) return 0;
  const decimals = (m[1].split('.')[1] ?? '').length;
  return 0.5 * 10 ** -decimals * (UNITS[m[2]] ?? 1);
}

async function main() {
  const loadBefore = loadavg();
  const tag = randomTag();
  const prefix = `nsgate-bench-${tag}`;

  await build({ skip: !opts.build });
  const engine = await useEngine();
  log(`engine ${engine.version}${engine.startedByUs ? ' (started by this run)' : ''}; load ${loadBefore.join(' ')}`);

  // containers: removed in the end (and on Ctrl-C or timeout), also those still being started then
  const { ids, ms: startMs } = await startBenchContainers({ count: opts.containers, parallel: opts.parallel, prefix, tag });
  log(`${opts.containers} containers running (${(startMs / 1000).toFixed(1)} s to start)`);

  const ns = await startNsgate({ managed: `/nsgate-bench-${tag}` });
  log(`nsgate pid ${ns.pid} on 127.0.0.1:${ns.port}`);
  const api = ns.http;
  const eng = engineClient({ maxSockets: 4, timeoutMs: 60_000 });
  onCleanup('close the engine client', () => eng.close());
  const ours = new Set(ids);

  const bulk = async () => {
    const { ms, value: res } = await timed(() => api.ok('GET', '/v1/containers?stats=true'));
    const mine = res.body.items.filter((c) => ours.has(c.id));
    const missing = mine.length !== ids.length || mine.some((c) => !c.stats);
    if (missing) throw new Error(`bulk stats: ${mine.length}/${ids.length} of ours, ${mine.filter((c) => c.stats).length} with stats`);
    return { ms, items: res.body.items.length, byId: new Map(mine.map((c) => [c.id, c.stats])) };
  };
  const single = (id) => api.ok('GET', `/v1/containers/${id}/stats`);
  const ops = {
    bulk: async () => (await bulk()).ms,
    singleSeq: async () =>
      (
        await timed(async () => {
          for (const id of ids) await single(id);
        })
      ).ms,
    singleConc: async () => (await timed(() => Promise.all(ids.map(single)))).ms,
    dockerStats: async () => (await docker(['stats', '--no-stream', ...ids], { timeoutMs: 120_000 })).ms,
    nsOne: async (round) => (await timed(() => single(ids[round % ids.length]))).ms,
    engineOne: async (round) => (await timed(() => eng.ok('GET', `/containers/${ids[round % ids.length]}/stats?stream=false`))).ms,
    engineOneShot: async (round) => (await timed(() => eng.ok('GET', `/containers/${ids[round % ids.length]}/stats?stream=false&one-shot=true`))).ms,
    // what nsgate asks the engine for on each list (a list, then an inspect per container), for scale
    engineList: async () => (await timed(() => eng.ok('GET', '/containers/json?all=1'))).ms,
    engineInspectAll: async () => (await timed(() => Promise.all(ids.map((id) => eng.ok('GET', `/containers/${id}/json`))))).ms,
  };
  const order = Object.keys(ops);
  const samples = Object.fromEntries(order.map((k) => [k, []]));

  log('warm-up round (every call once, not measured)');
  for (const k of order) await ops[k](0);
  const { items: listed } = await bulk();

  log(`${opts.rounds} measured rounds`);
  for (let round = 0; round < opts.rounds && !aborted(); round++) {
    const turn = order.map((_, i) => order[(i + round) % order.length]);
    for (const k of turn) samples[k].push(await ops[k](round));
  }
  const loadAfter = loadavg();

  // correctness: docker stats' MEM USAGE and CPU %, then nsgate's bulk answer right after;
  // and the engine's own bytes for one container against nsgate's single answer
  await sleep(1500); // the sampler has a previous sample of every container by now in any case
  const dockerJson = await docker(['stats', '--no-stream', '--format', '{{json .}}', ...ids], { timeoutMs: 120_000 });
  const check = await bulk();
  const dockerRows = dockerJson.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const mem = [];
  for (const row of dockerRows) {
    const id = ids.find((x) => x.startsWith(row.ID));
    const s = check.byId.get(id);
    const dockerBytes = parseDockerBytes(row.MemUsage);
    const diff = Math.max(0, Math.abs(s.memory.workingSet - dockerBytes) - dockerRounding(row.MemUsage));
    mem.push({ id: row.ID, docker: row.MemUsage.split('/')[0].trim(), dockerBytes, nsgateWorkingSet: s.memory.workingSet, nsgateUsage: s.memory.usage, relDiff: diff / dockerBytes, cpuPercent: s.cpu.percent, dockerCpu: row.CPUPerc });
  }
  const worst = mem.reduce((a, b) => (b.relDiff > a.relDiff ? b : a), mem[0]);
  const cpuNumbers = mem.filter((m) => typeof m.cpuPercent === 'number' && Number.isFinite(m.cpuPercent)).length;
  const [engineStats, nsStats] = await Promise.all([eng.ok('GET', `/containers/${ids[0]}/stats?stream=false&one-shot=true`), single(ids[0])]);
  const em = engineStats.body.memory_stats;
  const engineWorking = em.usage - (em.stats?.total_inactive_file ?? em.stats?.inactive_file ?? 0);
  const engineCheck = { engineUsage: em.usage, nsgateUsage: nsStats.body.memory.usage, engineWorkingSet: engineWorking, nsgateWorkingSet: nsStats.body.memory.workingSet };
  const correct = {
    containers: mem.length,
    memoryWithinTolerance: mem.filter((m) => m.relDiff * 100 <= opts.tolerance).length,
    worstRelDiffPct: worst.relDiff * 100,
    worst,
    cpuPercentNumbers: cpuNumbers,
    engineCheck,
  };

  const s = Object.fromEntries(order.map((k) => [k, summary(samples[k])]));
  const d = s.dockerStats.median;
  const ratios = {
    bulkOverDockerStats: s.bulk.median / d,
    singleSeqOverDockerStats: s.singleSeq.median / d,
    singleConcOverDockerStats: s.singleConc.median / d,
    nsOneOverEngineOne: s.nsOne.median / s.engineOne.median,
    nsOneOverEngineOneShot: s.nsOne.median / s.engineOneShot.median,
  };
  const met = ratios.bulkOverDockerStats < 1 / 100;
  const n = ids.length;
  const labels = {
    bulk: `nsgate GET /v1/containers?stats=true (all ${listed})`,
    singleSeq: `nsgate ${n} x GET /v1/containers/{id}/stats, sequential`,
    singleConc: `nsgate ${n} x GET /v1/containers/{id}/stats, concurrent`,
    dockerStats: `docker stats --no-stream <${n} ids> (CLI, one run)`,
    nsOne: 'nsgate GET /v1/containers/{id}/stats (one)',
    engineOne: 'engine GET /containers/{id}/stats?stream=false',
    engineOneShot: '(engine ...?stream=false&one-shot=true: no cpu %)',
    engineList: '(engine GET /containers/json?all=1)',
    engineInspectAll: `(engine ${n} x GET /containers/{id}/json, 4 at a time)`,
  };
  const vs = {
    bulk: fmtRatio(ratios.bulkOverDockerStats),
    singleSeq: fmtRatio(ratios.singleSeqOverDockerStats),
    singleConc: fmtRatio(ratios.singleConcOverDockerStats),
    dockerStats: '1',
    nsOne: fmtRatio(ratios.nsOneOverEngineOne),
    engineOne: '1',
    engineOneShot: '',
    engineList: '',
    engineInspectAll: '',
  };
  console.log(`\nbench/containers: stats of ${n} running containers, ${opts.rounds} rounds (+1 warm-up)`);
  console.log(`load average ${loadBefore.join(' ')} before, ${loadAfter.join(' ')} after (${cpus().length} CPUs); engine ${engine.version}, listing ${listed} containers`);
  console.log('');
  console.log(table(['call', 'median ms', 'p10', 'p90', 'min', 'n', 'ratio'], order.map((k) => [labels[k], fmtMs(s[k].median), fmtMs(s[k].p10), fmtMs(s[k].p90), fmtMs(s[k].min), String(s[k].n), vs[k]])));
  console.log('');
  console.log(
    table(
      ['ratio of medians', 'value', 'target'],
      [
        ['bulk / docker stats', fmtRatio(ratios.bulkOverDockerStats), `< 1/100: ${met ? 'met' : 'missed'}`],
        [`${n} sequential / docker stats`, fmtRatio(ratios.singleSeqOverDockerStats), '-'],
        [`${n} concurrent / docker stats`, fmtRatio(ratios.singleConcOverDockerStats), '-'],
        ['one: nsgate / engine stream=false', fmtRatio(ratios.nsOneOverEngineOne), '-'],
        ['one: nsgate / engine one-shot', fmtRatio(ratios.nsOneOverEngineOneShot), '-'],
      ],
    ),
  );
  console.log('');
  console.log(
    `memory: ${correct.memoryWithinTolerance}/${correct.containers} within ${opts.tolerance}% of docker stats' MEM USAGE ` +
      `(worst ${correct.worstRelDiffPct.toFixed(2)}%: docker ${worst.docker}, nsgate workingSet ${worst.nsgateWorkingSet} B, usage ${worst.nsgateUsage} B); ` +
      `engine API for ${ids[0].slice(0, 12)}: usage ${engineCheck.engineUsage} vs nsgate ${engineCheck.nsgateUsage}, minus inactive file ${engineCheck.engineWorkingSet} vs ${engineCheck.nsgateWorkingSet}`,
  );
  console.log(`cpu percent: a number for ${cpuNumbers}/${correct.containers} (e.g. ${mem[0].cpuPercent} vs docker ${mem[0].dockerCpu})`);
  console.log(
    JSON.stringify(
      rounded({
        bench: 'containers',
        time: new Date().toISOString(),
        node: process.version,
        cpus: cpus().length,
        rounds: opts.rounds,
        containers: n,
        engineListed: listed,
        loadavg: { before: loadBefore, after: loadAfter },
        engineVersion: engine.version,
        ms: s,
        ratios,
        target: { bulkOverDockerStatsBelow: 1 / 100, met },
        correctness: { ...correct, worst: undefined, ok: correct.memoryWithinTolerance === correct.containers && cpuNumbers === correct.containers },
      }),
    ),
  );
  return correct.memoryWithinTolerance === correct.containers && cpuNumbers === correct.containers;
}

await runBench('bench/containers', main, { timeoutS: opts.timeout });
