#!/usr/bin/env node
// bench/container-reads: read throughput of GET /v1/containers/{id} and GET /v1/containers with
// N running containers (20 by default), 16 concurrent keep-alive clients for --seconds each,
// against the engine's own GET /containers/{id}/json and GET /containers/json in the same run.
// Prints req/s, p50 and p99 per route and nsgate/engine ratios. Containers are removed at the end.
//
// usage: node bench/container-reads.mjs [--containers 20] [--clients 16] [--seconds 5] [--build]
import {
  args,
  build,
  engineClient,
  fmtMs,
  log,
  onCleanup,
  quantile,
  randomTag,
  removeContainers,
  runBench,
  runContainer,
  startNsgate,
  table,
  useEngine,
  nowMs,
} from './lib.mjs';

const opts = args(
  {
    containers: { default: 20, min: 1, max: 60, help: 'containers to run' },
    clients: { default: 16, min: 1, max: 64, help: 'concurrent clients' },
    seconds: { default: 5, min: 1, max: 60, help: 'seconds per route' },
    build: { type: 'boolean', default: false, help: 'npm run build first' },
  },
  'node bench/container-reads.mjs: container reads through nsgate vs the Docker Engine API',
);

/** `clients` loops, each issuing one request after another for `seconds`; every answer must be 200. */
async function load(http, path, clients, seconds) {
  const latencies = [];
  const end = nowMs() + seconds * 1000;
  const worker = async () => {
    while (nowMs() < end) {
      const res = await http.request('GET', path);
      if (res.status !== 200) throw new Error(`GET ${path} -> ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
      latencies.push(res.ms);
    }
  };
  const t0 = nowMs();
  await Promise.all(Array.from({ length: clients }, worker));
  const elapsed = (nowMs() - t0) / 1000;
  return { rps: latencies.length / elapsed, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
}

await runBench('container-reads', async () => {
  await build({ skip: !opts.build });
  await useEngine();
  const tag = randomTag();
  const ids = [];
  onCleanup('remove the bench containers', () => removeContainers(ids));
  for (let i = 0; i < opts.containers; i++) ids.push(await runContainer(`nsgate-bench-${tag}-${i}`, { label: { 'nsgate.bench': tag } }));
  const nsgate = await startNsgate();
  const engine = engineClient({ maxSockets: opts.clients * 2 });
  onCleanup('close the engine client', () => engine.close());
  const one = ids[Math.floor(ids.length / 2)];
  // warm up both
  for (let i = 0; i < 20; i++) {
    await nsgate.http.ok('GET', `/v1/containers/${one}`);
    await engine.ok('GET', `/containers/${one}/json`);
  }
  const rows = [];
  const pairs = [
    ['one container', `/v1/containers/${one}`, `/containers/${one}/json`],
    [`list (${ids.length}+)`, '/v1/containers', '/containers/json'],
  ];
  for (const [what, ours, theirs] of pairs) {
    const a = await load(nsgate.http, ours, opts.clients, opts.seconds);
    const b = await load(engine, theirs, opts.clients, opts.seconds);
    rows.push([what, a.rps.toFixed(0), fmtMs(a.p50), fmtMs(a.p99), b.rps.toFixed(0), fmtMs(b.p50), (a.rps / b.rps).toFixed(3)]);
    log(`${what}: nsgate ${a.rps.toFixed(0)} req/s, engine ${b.rps.toFixed(0)} req/s`);
  }
  console.log(`${opts.clients} concurrent keep-alive clients, ${opts.seconds} s per route, ${ids.length} bench containers`);
  console.log(table(['route', 'nsgate req/s', 'p50', 'p99', 'engine req/s', 'engine p50', 'ratio'], rows));
  return true;
});
