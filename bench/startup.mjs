#!/usr/bin/env node
// bench/startup: time from spawn of `node dist/main.js` to its first /healthz 200, --runs times
// (issue 10's target: at most 1.5 s on an idle machine). Each run gets a fresh data folder (a first
// start: it writes its token file) and a free loopback port; the service is stopped (TERM by pid,
// KILL after 10 s) and its folder removed after each run, at the end, on an error, on
// SIGINT/SIGTERM/SIGHUP and on --timeout. Also prints the CPU time the service had used by then
// (utime + stime of all its threads, from /proc/PID/stat), less sensitive to a busy machine than
// the wall time. With --compare DIR, the runs alternate between dist/ and DIR (another build of
// main.js, e.g. a copy of dist/ from before a change), so both see the same machine.
//
// usage: node bench/startup.mjs [--runs 5] [--compare DIR] [--build]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { args, build, client, ENGINE_HOST, fmtMs, freePort, loadavg, log, median, nowMs, onCleanup, ROOT, rounded, runBench, sleep, table } from './lib.mjs';

const USAGE = 'node bench/startup.mjs: spawn of node dist/main.js to its first /healthz 200';
const opts = args(
  {
    runs: { default: 5, min: 1, max: 100, help: 'starts per build' },
    compare: { type: 'string', default: '', help: 'another build folder (holding main.js) to alternate with dist/' },
    'ready-timeout': { default: 60, min: 1, max: 600, help: 'seconds to wait for /healthz per start' },
    timeout: { default: 900, min: 10, max: 86400, help: 'abort (and clean up) after this many seconds in all' },
    build: { type: 'boolean', default: false, help: 'npm run build first' },
  },
  USAGE,
);
const TARGET_MS = 1500;
const TICK_MS = 1000 / 100; // USER_HZ

/** utime + stime of the whole process (every thread), in ms. */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

async function startOnce(dist) {
  const dataDir = mkdtempSync(join(tmpdir(), 'nsgate-startup-'));
  const port = await freePort();
  const t0 = nowMs();
  const child = spawn(process.execPath, [join(dist, 'main.js')], {
    cwd: ROOT,
    stdio: 'ignore',
    env: { ...process.env, NSGATE_DATA_DIR: dataDir, NSGATE_LISTEN: `127.0.0.1:${port}`, NSGATE_MANAGED_CGROUPS: '/nsgate-bench-startup', DOCKER_HOST: ENGINE_HOST },
  });
  let exited = null;
  const exit = new Promise((r) => child.once('exit', (code, signal) => r((exited = { code, signal }))));
  const stop = async () => {
    if (!exited) {
      process.kill(child.pid, 'SIGTERM');
      if (!(await Promise.race([exit, sleep(10_000).then(() => null)]))) process.kill(child.pid, 'SIGKILL');
      await Promise.race([exit, sleep(5000)]);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  onCleanup('stop this start', stop);
  const probe = client({ host: '127.0.0.1', port, timeoutMs: 2000, maxSockets: 1 });
  try {
    for (;;) {
      if (exited) throw new Error(`${dist}/main.js exited (${JSON.stringify(exited)}) before answering`);
      const res = await probe.request('GET', '/healthz').catch(() => null);
      if (res?.status === 200) return { ms: nowMs() - t0, cpuMs: cpuMs(child.pid) };
      if (nowMs() - t0 > opts['ready-timeout'] * 1000) throw new Error(`no /healthz within ${opts['ready-timeout']} s`);
      await sleep(10);
    }
  } finally {
    probe.close();
    await stop();
  }
}

async function main() {
  await build({ skip: !opts.build });
  const builds = [join(ROOT, 'dist')];
  if (opts.compare) {
    const other = isAbsolute(opts.compare) ? opts.compare : resolve(process.cwd(), opts.compare);
    if (!existsSync(join(other, 'main.js'))) throw new Error(`${other}/main.js does not exist`);
    builds.push(other);
  }
  const loadBefore = loadavg();
  log(`load ${loadBefore.join(' ')}; ${opts.runs} start(s) of ${builds.join(' and ')}`);
  const results = Object.fromEntries(builds.map((b) => [b, []]));
  for (let i = 0; i < opts.runs; i++) {
    for (const b of i % 2 ? [...builds].reverse() : builds) {
      const r = await startOnce(b);
      results[b].push(r);
      log(`${b}: ${fmtMs(r.ms)} ms to the first /healthz 200, ${r.cpuMs} ms CPU`);
      await sleep(500);
    }
  }
  const loadAfter = loadavg();
  const rows = builds.map((b) => {
    const ms = results[b].map((r) => r.ms);
    const cpu = results[b].map((r) => r.cpuMs);
    return [b, fmtMs(median(ms)), fmtMs(Math.min(...ms)), fmtMs(Math.max(...ms)), fmtMs(median(cpu)), results[b].length, median(ms) <= TARGET_MS ? 'met' : 'missed'];
  });
  console.log(`\nload average ${loadBefore.join(' ')} before, ${loadAfter.join(' ')} after\n`);
  console.log(table(['build', 'median ms', 'min', 'max', 'CPU ms (median)', 'n', 'target <= 1.5 s idle'], rows));
  console.log(JSON.stringify(rounded({ bench: 'startup', time: new Date().toISOString(), node: process.version, options: opts, loadavg: { before: loadBefore, after: loadAfter }, results })));
  return true;
}

runBench('startup', main, { timeoutS: opts.timeout });
