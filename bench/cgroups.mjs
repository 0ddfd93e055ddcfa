#!/usr/bin/env node
// bench/cgroups: the time of one memory limit change, three ways, in alternating rounds:
//   nsgate   PATCH /v1/cgroups/{path}/-/limits            (keep-alive client, warm; answers {before, after})
//   engine   POST /containers/{id}/update on the private engine's socket (keep-alive), as `docker update`
//   raw      fs.writeFileSync of the value to the nsgate cgroup's memory.limit_in_bytes
// Each change alternates between two values (64M and 96M by default) so every write is a real
// change. Target (issue 4): nsgate at most a third of the engine's time.
//
// Each change is read back from the kernel (a mismatch fails the run); the cgroup and the container
// are removed at the end, on an error, on SIGINT/SIGTERM/SIGHUP and on --timeout. See bench/README.md.
//
// usage: node bench/cgroups.mjs [--rounds 200] [--warmup 20] [--low 64 --high 96] [--data-parent DIR] [--build]
import { closeSync, existsSync, fdatasyncSync, openSync, readFileSync, rmdirSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  args,
  build,
  cgroupMounts,
  engineClient,
  fmtMs,
  fmtRatio,
  loadavg,
  log,
  onCleanup,
  randomTag,
  removeContainers,
  rounded,
  runBench,
  aborted,
  runContainer,
  startNsgate,
  summary,
  table,
  timed,
  useEngine,
  v1MountOf,
} from './lib.mjs';

const USAGE = 'node bench/cgroups.mjs: a memory limit change through nsgate vs the Docker Engine vs a raw write()';
const opts = args(
  {
    rounds: { default: 200, min: 5, max: 2000, help: 'measured rounds (each: one change per method, in rotating order)' },
    warmup: { default: 20, min: 0, max: 500, help: 'unmeasured rounds first' },
    low: { default: 64, min: 8, max: 4096, help: 'first memory value, MiB' },
    high: { default: 96, min: 8, max: 4096, help: 'second memory value, MiB' },
    timeout: { default: 600, min: 10, max: 86400, help: 'abort (and clean up) after this many seconds in all' },
    build: { type: 'boolean', default: false, help: 'npm run build first (npm run bench:* builds already)' },
    'data-parent': { type: 'string', default: tmpdir(), help: "where nsgate's data folder (and audit log) goes; /dev/shm shows the cost of fdatasync" },
  },
  USAGE,
);
if (opts.low === opts.high) {
  process.stderr.write('--low and --high must differ\n');
  process.exit(2);
}

const MiB = 1024 * 1024;
const VALUES = [opts.low * MiB, opts.high * MiB];
const other = (v) => (v === VALUES[0] ? VALUES[1] : VALUES[0]);
const readNum = (file) => Number(readFileSync(file, 'utf8').trim());

async function main() {
  const loadBefore = loadavg();
  const tag = randomTag();
  const managed = `/nsgate-bench-${tag}`;
  const cgPath = `${managed.slice(1)}/c`; // without the leading slash, as the route takes it

  await build({ skip: !opts.build });
  const engine = await useEngine();
  log(`engine ${engine.version}${engine.startedByUs ? ' (started by this run)' : ''}; load ${loadBefore.join(' ')}`);

  const ns = await startNsgate({ managed, dataParent: opts['data-parent'] });
  log(`nsgate pid ${ns.pid} on 127.0.0.1:${ns.port}, managed ${managed}`);

  // the cgroup, through nsgate; removed through nsgate, else by rmdir of what this run made
  await ns.http.ok('PUT', `/v1/cgroups/${cgPath}`, {});
  onCleanup('remove the bench cgroup', async () => {
    for (const p of [cgPath, managed.slice(1)]) {
      const res = await ns.http.request('DELETE', `/v1/cgroups/${p}`).catch((err) => ({ status: 0, body: err.message }));
      if (res.status !== 200) log(`DELETE /v1/cgroups/${p}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
    }
    for (const mnt of cgroupMounts()) {
      for (const p of [cgPath, managed.slice(1)]) {
        const dir = join(mnt, p);
        if (existsSync(dir)) {
          log(`rmdir ${dir} (left behind)`);
          try {
            rmdirSync(dir);
          } catch (err) {
            log(`rmdir ${dir}: ${err.message}`);
          }
        }
      }
    }
  });
  const memMount = v1MountOf('memory');
  if (!memMount) throw new Error('no cgroup v1 memory hierarchy in /proc/self/mountinfo; this bench writes memory.limit_in_bytes');
  const nsFile = join(memMount, cgPath, 'memory.limit_in_bytes');
  if (!existsSync(nsFile)) throw new Error(`${nsFile} is missing after PUT`);

  // the container, on the private engine
  const name = `nsgate-bench-${tag}-c`;
  onCleanup('remove the bench container', () => removeContainers([name]));
  const id = await runContainer(name, { label: { 'nsgate.bench': tag } });
  const eng = engineClient({ maxSockets: 1 });
  onCleanup('close the engine client', () => eng.close());
  const pid = (await eng.ok('GET', `/containers/${id}/json`)).body.State.Pid;
  const memLine = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes('memory'));
  const ctFile = join(memMount, memLine.split(':').slice(2).join(':'), 'memory.limit_in_bytes');
  log(`container ${id.slice(0, 12)} (pid ${pid}), cgroup file ${ctFile}`);

  // what each target holds now; every change writes the other value
  let nsCurrent = readNum(nsFile);
  let ctCurrent = readNum(ctFile);

  const methods = {
    nsgate: async () => {
      const v = other(nsCurrent);
      const { ms, value: res } = await timed(() => ns.http.ok('PATCH', `/v1/cgroups/${cgPath}/-/limits`, { memory: { max: v } }));
      const after = res.body?.after?.memory?.max;
      if (after !== v) throw new Error(`nsgate PATCH answered after.memory.max=${after}, wanted ${v}`);
      nsCurrent = v;
      return ms;
    },
    engine: async () => {
      const v = other(ctCurrent);
      const { ms } = await timed(() => eng.ok('POST', `/containers/${id}/update`, { Memory: v, MemorySwap: -1 }));
      const now = readNum(ctFile);
      if (now !== v) throw new Error(`engine update: ${ctFile} reads ${now}, wanted ${v}`);
      ctCurrent = v;
      return ms;
    },
    raw: async () => {
      const v = other(nsCurrent);
      const { ms } = await timed(() => writeFileSync(nsFile, String(v)));
      const now = readNum(nsFile);
      if (now !== v) throw new Error(`raw write: ${nsFile} reads ${now}, wanted ${v}`);
      nsCurrent = v;
      return ms;
    },
    // not limit changes, but what nsgate's time is made of:
    // its HTTP floor (a public route: no auth, no audit, no kernel work) ...
    floor: async () => (await timed(() => ns.http.ok('GET', '/healthz'))).ms,
    // ... and its audit log's durability: two lines (received, completed), each written and
    // fdatasync'ed before going on, here done by the bench in a file next to nsgate's audit.log
    fsync: async () =>
      (
        await timed(() => {
          for (let i = 0; i < 2; i++) {
            writeSync(probeFd, probeLine);
            fdatasyncSync(probeFd);
          }
        })
      ).ms,
  };
  const probeFd = openSync(join(ns.dataDir, 'fsync-probe.log'), 'a', 0o600);
  onCleanup('close the fsync probe', () => closeSync(probeFd));
  const probeLine = `${JSON.stringify({ time: new Date().toISOString(), requestId: '00000000-0000-0000-0000-000000000000', caller: { name: 'admin', role: 'admin' }, action: 'cgroup.limits', target: `cgroup:/${cgPath}`, stage: 'completed', result: 'ok', request: { memory: { max: VALUES[0] } }, before: { memory: { max: VALUES[1], high: null, swapMax: null } }, after: { memory: { max: VALUES[0], high: null, swapMax: null } } })}\n`;
  const order = ['nsgate', 'engine', 'raw', 'floor', 'fsync'];
  const samples = Object.fromEntries(order.map((k) => [k, []]));

  log(`${opts.warmup} warm-up rounds, then ${opts.rounds} measured rounds`);
  for (let round = 0; round < opts.warmup + opts.rounds && !aborted(); round++) {
    // rotate the order so no method always follows the same one
    const turn = order.map((_, i) => order[(i + round) % order.length]);
    for (const m of turn) {
      const ms = await methods[m]();
      if (round >= opts.warmup) samples[m].push(ms);
    }
  }
  const loadAfter = loadavg();

  // the service's own view: pino's responseTime (whole ms) of the measured PATCHes
  const served = readFileSync(ns.logFile, 'utf8')
    .split('\n')
    .flatMap((l) => {
      try {
        const e = JSON.parse(l);
        return e.req?.method === 'PATCH' && e.req?.url?.includes('/-/limits') && typeof e.responseTime === 'number' ? [e.responseTime] : [];
      } catch {
        return [];
      }
    })
    .slice(-opts.rounds);

  const s = Object.fromEntries(order.map((k) => [k, summary(samples[k])]));
  if (served.length) s.served = summary(served);
  const ratios = {
    nsgateOverEngine: s.nsgate.median / s.engine.median,
    nsgateOverRaw: s.nsgate.median / s.raw.median,
    engineOverRaw: s.engine.median / s.raw.median,
  };
  const met = ratios.nsgateOverEngine <= 1 / 3;

  const labels = {
    nsgate: 'nsgate PATCH /v1/cgroups/{path}/-/limits',
    engine: 'engine POST /containers/{id}/update',
    raw: 'raw write() to memory.limit_in_bytes',
    served: '(nsgate PATCH, server side: its log, whole ms)',
    floor: '(nsgate GET /healthz: its HTTP floor)',
    fsync: '(2 x write+fdatasync of an audit line)',
  };
  const shown = ['nsgate', 'engine', 'raw', ...(s.served ? ['served'] : []), 'floor', 'fsync'];
  const rows = shown.map((k) => [labels[k], fmtMs(s[k].median), fmtMs(s[k].p10), fmtMs(s[k].p90), fmtMs(s[k].min), String(s[k].n)]);
  console.log(`\nbench/cgroups: one memory limit change (${VALUES.map((v) => `${v / MiB}M`).join(' <-> ')}), ${opts.rounds} rounds (+${opts.warmup} warm-up)`);
  console.log(`load average ${loadBefore.join(' ')} before, ${loadAfter.join(' ')} after (${cpus().length} CPUs); engine ${engine.version}; nsgate's audit log in ${opts['data-parent']}`);
  console.log('');
  console.log(table(['method', 'median ms', 'p10', 'p90', 'min', 'n'], rows));
  console.log('');
  console.log(
    table(
      ['ratio of medians', 'value', 'target'],
      [
        ['nsgate / engine', fmtRatio(ratios.nsgateOverEngine), `<= 1/3: ${met ? 'met' : 'missed'}`],
        ['nsgate / raw', fmtRatio(ratios.nsgateOverRaw), '-'],
        ['engine / raw', fmtRatio(ratios.engineOverRaw), '-'],
      ],
    ),
  );
  console.log(
    JSON.stringify(
      rounded({
        bench: 'cgroups',
        time: new Date().toISOString(),
        node: process.version,
        cpus: cpus().length,
        rounds: opts.rounds,
        warmup: opts.warmup,
        values: VALUES,
        loadavg: { before: loadBefore, after: loadAfter },
        engineVersion: engine.version,
        dataParent: opts['data-parent'],
        ms: s,
        ratios,
        target: { nsgateOverEngineAtMost: 1 / 3, met },
        checks: { readBack: 'every change read back from the kernel (nsgate: its answer; engine and raw: the file)', ok: true },
      }),
    ),
  );
  return true; // every change was read back as written (a mismatch throws)
}

await runBench('bench/cgroups', main, { timeoutS: opts.timeout });
