#!/usr/bin/env node
// bench/throughput: requests per second and latency under concurrent keep-alive load, nsgate and
// the Docker Engine on the same host, in one run (issue 10):
//   one      nsgate GET /v1/containers/{id}            vs  engine GET /containers/{id}/json
//   list     nsgate GET /v1/containers (20)            vs  engine GET /containers/json
//   health   nsgate GET /healthz                       vs  engine GET /_ping
//   stats    nsgate GET /v1/containers/{id}/stats      (nsgate only)
//   bulk     nsgate GET /v1/containers?stats=true      (nsgate only)
// Each load is --concurrency workers issuing requests back-to-back for --duration seconds; the loads
// run one at a time, in an order that rotates by one each round. Meanwhile a separate probe asks
// nsgate's /healthz every --probe-interval ms on its own connection: its p99 while nsgate is under
// load is the issue's "healthz p99 <= 20 ms" target.
//
// The containers (busybox `sleep 3600`, --network none, labels nsgate.test=1 and nsgate.bench=<tag>,
// names nsgate-bench-<tag>-<i>) are removed at the end, on an error, on SIGINT/SIGTERM/SIGHUP and on
// --timeout. See bench/README.md.
//
// usage: node bench/throughput.mjs [--duration 5] [--concurrency 16] [--rounds 2] [--containers 20] [--build]
import { cpus } from 'node:os';
import {
  aborted,
  args,
  build,
  client,
  engineClient,
  fmtMs,
  fmtRatio,
  loadavg,
  log,
  nowMs,
  onCleanup,
  quantile,
  randomTag,
  rounded,
  runBench,
  sleep,
  startBenchContainers,
  startNsgate,
  table,
  useEngine,
} from './lib.mjs';

const USAGE = 'node bench/throughput.mjs: requests/s, p50 and p99 under concurrent keep-alive load, nsgate vs the Docker Engine';
const opts = args(
  {
    duration: { default: 5, min: 1, max: 600, help: 'seconds per load, per round' },
    concurrency: { default: 16, min: 1, max: 256, help: 'concurrent workers (one keep-alive connection each)' },
    rounds: { default: 2, min: 1, max: 50, help: 'rounds; every load once per round, in an order that rotates by one' },
    warmup: { default: 1, min: 0, max: 60, help: 'unmeasured seconds of each load first' },
    containers: { default: 20, min: 1, max: 60, help: 'containers to run' },
    parallel: { default: 4, min: 1, max: 10, help: 'containers started at a time' },
    'probe-interval': { default: 20, min: 1, max: 1000, help: "ms between /healthz probes (own connection) while the loads run" },
    'rate-limit': { default: 100_000_000, min: 1, help: "NSGATE_RATE_LIMIT for the service started here (requests per caller per minute; the engine has none)" },
    timeout: { default: 900, min: 30, max: 86400, help: 'abort (and clean up) after this many seconds in all' },
    build: { type: 'boolean', default: false, help: 'npm run build first' },
  },
  USAGE,
);

const TARGETS = {
  one: { ratioAtLeast: 0.5, text: '>= 0.5x engine inspect' },
  list: { ratioAtLeast: 3, text: '>= 3x engine list' },
  healthP99: { msAtMost: 20, text: '<= 20 ms under load' },
  stats: { rpsAtLeast: 3000, text: '>= 3,000 req/s' },
};

/** N workers, each issuing requests back-to-back until the time is up: latencies and counts. */
async function load(pathFor, http, { seconds, concurrency }) {
  const lat = [];
  let errors = 0;
  const statuses = {};
  const t0 = nowMs();
  const end = t0 + seconds * 1000;
  let seq = 0;
  const worker = async () => {
    while (nowMs() < end && !aborted()) {
      const path = pathFor(seq++);
      try {
        const res = await http.request('GET', path);
        if (res.status >= 200 && res.status < 300) lat.push(res.ms);
        else {
          errors++;
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        }
      } catch {
        errors++;
        statuses.transport = (statuses.transport ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ms: nowMs() - t0, lat, errors, statuses };
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

  const ns = await startNsgate({ managed: `/nsgate-bench-${tag}`, env: { NSGATE_RATE_LIMIT: String(opts['rate-limit']) } });
  log(`nsgate pid ${ns.pid} on 127.0.0.1:${ns.port}`);
  const api = client({ host: '127.0.0.1', port: ns.port, token: ns.token, maxSockets: opts.concurrency });
  const eng = engineClient({ maxSockets: opts.concurrency });
  const probeClient = client({ host: '127.0.0.1', port: ns.port, maxSockets: 1 });
  onCleanup('close the clients', () => {
    api.close();
    eng.close();
    probeClient.close();
  });

  // every load sees the same containers: ours (others' containers on the shared engine may be listed too)
  const listed = (await api.ok('GET', '/v1/containers')).body.items;
  const engineListed = (await eng.ok('GET', '/containers/json')).body;
  const mine = new Set(ids);
  const seen = listed.filter((c) => mine.has(c.id)).length;
  if (seen !== ids.length) throw new Error(`nsgate lists ${seen} of the ${ids.length} bench containers`);
  log(`nsgate lists ${listed.length} containers, the engine ${engineListed.length} (${ids.length} of them this run's)`);

  const pick = (i) => ids[i % ids.length];
  const LOADS = [
    { key: 'nsOne', side: 'nsgate', what: 'GET /v1/containers/{id}', http: api, path: (i) => `/v1/containers/${pick(i)}` },
    { key: 'engOne', side: 'engine', what: 'GET /containers/{id}/json', http: eng, path: (i) => `/containers/${pick(i)}/json` },
    { key: 'nsList', side: 'nsgate', what: `GET /v1/containers (${listed.length})`, http: api, path: () => '/v1/containers' },
    { key: 'engList', side: 'engine', what: `GET /containers/json (${engineListed.length})`, http: eng, path: () => '/containers/json' },
    { key: 'nsHealth', side: 'nsgate', what: 'GET /healthz', http: api, path: () => '/healthz' },
    { key: 'engPing', side: 'engine', what: 'GET /_ping', http: eng, path: () => '/_ping' },
    { key: 'nsStats', side: 'nsgate', what: 'GET /v1/containers/{id}/stats', http: api, path: (i) => `/v1/containers/${pick(i)}/stats` },
    { key: 'nsBulk', side: 'nsgate', what: `GET /v1/containers?stats=true (${listed.length})`, http: api, path: () => '/v1/containers?stats=true' },
  ];

  // the /healthz probe: one request every --probe-interval ms on its own connection, tagged with the load running
  let current = 'idle';
  const probes = [];
  let probing = true;
  const probeLoop = (async () => {
    while (probing && !aborted()) {
      const phase = current;
      const res = await probeClient.request('GET', '/healthz').catch(() => null);
      probes.push({ phase, ms: res?.status === 200 ? res.ms : Infinity });
      await sleep(opts['probe-interval']);
    }
  })();

  // a quiet baseline for the probe first
  await sleep(Math.max(2000, opts.warmup * 1000));

  if (opts.warmup > 0) {
    for (const l of LOADS) {
      current = `warmup:${l.key}`;
      const w = await load(l.path, l.http, { seconds: opts.warmup, concurrency: opts.concurrency });
      log(`warm-up ${l.side} ${l.what}: ${w.lat.length} ok, ${w.errors} failed`);
    }
  }

  const results = Object.fromEntries(LOADS.map((l) => [l.key, { lat: [], ms: 0, errors: 0, statuses: {}, rounds: [] }]));
  for (let round = 0; round < opts.rounds && !aborted(); round++) {
    const order = LOADS.map((_, i) => LOADS[(i + round) % LOADS.length]);
    for (const l of order) {
      if (aborted()) break;
      current = l.key;
      const r = await load(l.path, l.http, { seconds: opts.duration, concurrency: opts.concurrency });
      current = 'between';
      const agg = results[l.key];
      agg.lat.push(...r.lat);
      agg.ms += r.ms;
      agg.errors += r.errors;
      for (const [s, n] of Object.entries(r.statuses)) agg.statuses[s] = (agg.statuses[s] ?? 0) + n;
      const rps = (r.lat.length / r.ms) * 1000;
      agg.rounds.push(rps);
      log(`round ${round + 1} ${l.side.padEnd(6)} ${l.what.padEnd(42)} ${rps.toFixed(0).padStart(6)} req/s  p50 ${fmtMs(quantile(r.lat, 0.5))} ms  p99 ${fmtMs(quantile(r.lat, 0.99))} ms${r.errors ? `  ${r.errors} failed ${JSON.stringify(r.statuses)}` : ''}`);
      await sleep(300);
    }
  }
  probing = false;
  await probeLoop;

  const stat = (key) => {
    const a = results[key];
    return { rps: (a.lat.length / a.ms) * 1000, p50: quantile(a.lat, 0.5), p99: quantile(a.lat, 0.99), n: a.lat.length, errors: a.errors, statuses: a.statuses, roundsRps: a.rounds };
  };
  const s = Object.fromEntries(LOADS.map((l) => [l.key, stat(l.key)]));
  const probeOf = (pred) => probes.filter((p) => pred(p.phase)).map((p) => p.ms);
  const nsLoadKeys = new Set(['nsOne', 'nsList', 'nsStats', 'nsBulk']);
  const probe = {
    quiet: probeOf((p) => p === 'idle'),
    underNsgateLoad: probeOf((p) => nsLoadKeys.has(p)),
    underEngineLoad: probeOf((p) => p === 'engOne' || p === 'engList' || p === 'engPing'),
    perLoad: Object.fromEntries([...nsLoadKeys].map((k) => [k, probeOf((p) => p === k)])),
  };
  const pstat = (xs) => ({ n: xs.length, p50: quantile(xs, 0.5), p99: quantile(xs, 0.99), max: xs.length ? Math.max(...xs) : NaN });

  const ratioOne = s.nsOne.rps / s.engOne.rps;
  const ratioList = s.nsList.rps / s.engList.rps;
  const ratioHealth = s.nsHealth.rps / s.engPing.rps;
  const healthP99 = pstat(probe.underNsgateLoad).p99;
  const met = (ok) => (ok ? 'met' : 'missed');

  const rowOf = (l) => [`${l.side} ${l.what}`, s[l.key].rps.toFixed(0), fmtMs(s[l.key].p50), fmtMs(s[l.key].p99), s[l.key].n, s[l.key].errors];
  console.log(`\n${opts.concurrency} concurrent keep-alive clients, ${opts.duration} s per load per round, ${opts.rounds} round(s), ${cpus().length} CPUs\n`);
  console.log(table(['load', 'req/s', 'p50 ms', 'p99 ms', 'n', 'failed'], LOADS.map(rowOf)));
  console.log('');
  console.log(
    table(
      ['ratio (same run)', 'value', 'target'],
      [
        ['GET one: nsgate / engine inspect', fmtRatio(ratioOne), `${TARGETS.one.text}: ${met(ratioOne >= TARGETS.one.ratioAtLeast)}`],
        ['list: nsgate / engine list', fmtRatio(ratioList), `${TARGETS.list.text}: ${met(ratioList >= TARGETS.list.ratioAtLeast)}`],
        ['healthz: nsgate / engine _ping', fmtRatio(ratioHealth), '-'],
        ['one stats, req/s', s.nsStats.rps.toFixed(0), `${TARGETS.stats.text}: ${met(s.nsStats.rps >= TARGETS.stats.rpsAtLeast)}`],
        ['/healthz probe p99 ms, nsgate under load', fmtMs(healthP99), `${TARGETS.healthP99.text}: ${met(healthP99 <= TARGETS.healthP99.msAtMost)}`],
      ],
    ),
  );
  console.log('');
  console.log(
    table(
      ['/healthz probe (own connection)', 'n', 'p50 ms', 'p99 ms', 'max ms'],
      [
        ['quiet (before the loads)', ...Object.values(pstat(probe.quiet)).map((v, i) => (i ? fmtMs(v) : v))],
        ['nsgate under load (one, list, stats, bulk)', ...Object.values(pstat(probe.underNsgateLoad)).map((v, i) => (i ? fmtMs(v) : v))],
        ...[...nsLoadKeys].map((k) => [`  during ${k}`, ...Object.values(pstat(probe.perLoad[k])).map((v, i) => (i ? fmtMs(v) : v))]),
        ['engine under load (nsgate idle)', ...Object.values(pstat(probe.underEngineLoad)).map((v, i) => (i ? fmtMs(v) : v))],
      ],
    ),
  );

  const failed = LOADS.filter((l) => s[l.key].errors > 0);
  const ok = failed.length === 0 && probes.every((p) => Number.isFinite(p.ms));
  if (!ok) log(`failed requests: ${failed.map((l) => `${l.key} ${JSON.stringify(s[l.key].statuses)}`).join(', ') || 'a /healthz probe failed'}`);
  const loadAfter = loadavg();
  console.log(
    JSON.stringify(
      rounded({
        bench: 'throughput',
        time: new Date().toISOString(),
        node: process.version,
        cpus: cpus().length,
        options: opts,
        loadavg: { before: loadBefore, after: loadAfter },
        engineVersion: engine.version,
        containers: { ours: ids.length, nsgateListed: listed.length, engineListed: engineListed.length },
        loads: Object.fromEntries(LOADS.map((l) => [l.key, { what: `${l.side} ${l.what}`, ...s[l.key] }])),
        probe: { quiet: pstat(probe.quiet), underNsgateLoad: pstat(probe.underNsgateLoad), underEngineLoad: pstat(probe.underEngineLoad) },
        ratios: { one: ratioOne, list: ratioList, health: ratioHealth },
        targets: {
          one: { atLeast: TARGETS.one.ratioAtLeast, met: ratioOne >= TARGETS.one.ratioAtLeast },
          list: { atLeast: TARGETS.list.ratioAtLeast, met: ratioList >= TARGETS.list.ratioAtLeast },
          stats: { atLeast: TARGETS.stats.rpsAtLeast, met: s.nsStats.rps >= TARGETS.stats.rpsAtLeast },
          healthP99: { atMostMs: TARGETS.healthP99.msAtMost, met: healthP99 <= TARGETS.healthP99.msAtMost },
        },
        checks: { everyRequest2xx: ok },
      }),
    ),
  );
  return ok;
}

runBench('throughput', main, { timeoutS: opts.timeout });
