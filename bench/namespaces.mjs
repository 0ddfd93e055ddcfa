#!/usr/bin/env node
// bench/namespaces: GET /v1/namespaces (warm server, keep-alive client) against `lsns -J`,
// at the machine's idle process count and with N extra sleeping processes; plus /healthz
// latency while namespace scans run back-to-back. Plain Node ESM, no dependencies.
//
//   npm run build && node bench/namespaces.mjs [--extra 2000] [--rounds 15]
//
// Starts the built service (dist/main.js) on a free loopback port with a temporary data
// folder, unless NSGATE_URL and NSGATE_TOKEN name a running one. Everything it starts (the
// service, the sleeps) it stops again by pid: at the end, on an error, on SIGINT/SIGTERM, and
// when the whole run exceeds --timeout seconds. See bench/README.md.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN_JS = path.join(REPO, 'dist', 'main.js');
const RATIO_TARGET = 0.25; // issue 3: at +2,000 processes, nsgate in at most a quarter of lsns -J's time
const HEALTHZ_P99_TARGET_MS = 20; // issue 3: /healthz p99 under 20 ms while scans run
const NAMESPACES_PATH = '/v1/namespaces?limit=5000';

// ---------------------------------------------------------------------------------------------
// Options

const USAGE = `usage: node bench/namespaces.mjs [options]

  --extra N            extra sleeping processes for the loaded phase (default 2000; 0 skips it)
  --rounds N           measured rounds per phase, each one nsgate request and one lsns -J (default 15)
  --warmup N           warm-up requests (and lsns runs) before each phase (default 3)
  --health-samples N   /healthz requests per phase while scans run back-to-back (default 250)
  --health-interval MS spacing of those /healthz requests (default 20)
  --timeout S          abort (and clean up) after S seconds in all (default 600)
  --help

environment:
  NSGATE_URL, NSGATE_TOKEN   use a running nsgate on this host (loopback) instead of starting dist/main.js
  NSGATE_LOG_LEVEL           passed to the service it starts (its log goes to the temporary data folder)
`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      extra: { type: 'string', default: '2000' },
      rounds: { type: 'string', default: '15' },
      warmup: { type: 'string', default: '3' },
      'health-samples': { type: 'string', default: '250' },
      'health-interval': { type: 'string', default: '20' },
      timeout: { type: 'string', default: '600' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const int = (name, min, max) => {
    const raw = values[name];
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      process.stderr.write(`bench: --${name} must be an integer from ${min} to ${max}, not "${raw}"\n${USAGE}`);
      process.exit(2);
    }
    return Number(raw);
  };
  return {
    extra: int('extra', 0, 20000),
    rounds: int('rounds', 1, 1000),
    warmup: int('warmup', 0, 100),
    healthSamples: int('health-samples', 0, 2000),
    healthIntervalMs: int('health-interval', 1, 1000),
    timeoutS: int('timeout', 10, 24 * 3600),
  };
}

// ---------------------------------------------------------------------------------------------
// What this run started, and how it is stopped (exactly these pids, never anything else)

const started = {
  service: null, // ChildProcess of dist/main.js
  sleeps: [], // ChildProcess of each `sleep 3600`
  dataDir: null, // temporary folder made by mkdtemp
};
let aborting = false;
let cleanupPromise = null;

const alive = (child) => child && child.pid !== undefined && child.exitCode === null && child.signalCode === null;
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function exited(child) {
  return alive(child) ? new Promise((resolve) => child.once('exit', resolve)) : Promise.resolve();
}

async function withDeadline(promise, ms) {
  let timer;
  const result = await Promise.race([promise.then(() => true), new Promise((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  clearTimeout(timer);
  return result;
}

async function killSleeps() {
  const live = started.sleeps.filter(alive);
  for (const child of live) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // exited between the check and the kill: nothing to do
    }
  }
  const allGone = await withDeadline(Promise.all(live.map(exited)), 15_000);
  const left = started.sleeps.filter(alive).length;
  if (live.length > 0) log(`cleanup: killed ${live.length} sleep(s) by pid; ${allGone ? 'all exited' : `${left} still not reaped after 15 s`}`);
  return live.length;
}

async function stopService() {
  const child = started.service;
  if (!alive(child)) return;
  process.kill(child.pid, 'SIGTERM');
  if (await withDeadline(exited(child), 10_000)) {
    log(`cleanup: service pid ${child.pid} stopped (SIGTERM)`);
    return;
  }
  if (alive(child)) process.kill(child.pid, 'SIGKILL');
  await withDeadline(exited(child), 5_000);
  log(`cleanup: service pid ${child.pid} did not stop on SIGTERM within 10 s; sent SIGKILL`);
}

function cleanup() {
  cleanupPromise ??= (async () => {
    aborting = true;
    await killSleeps();
    await stopService();
    if (started.dataDir) {
      try {
        rmSync(started.dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
        log(`cleanup: removed ${started.dataDir}`);
      } catch (err) {
        log(`cleanup: could not remove ${started.dataDir}: ${err.message}`);
      }
    }
  })();
  return cleanupPromise;
}

let exiting = false;
async function abort(reason, code) {
  if (exiting) return;
  exiting = true;
  log(`bench: aborting: ${reason}`);
  try {
    await withDeadline(cleanup(), 40_000);
  } finally {
    process.exit(code);
  }
}

// Last resort if the process exits some other way: SIGKILL whatever of ours still runs.
process.on('exit', () => {
  for (const child of [...started.sleeps, started.service]) {
    if (alive(child)) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});
process.on('SIGINT', () => void abort('SIGINT', 130));
process.on('SIGTERM', () => void abort('SIGTERM', 143));
process.on('SIGHUP', () => void abort('SIGHUP', 129));

// ---------------------------------------------------------------------------------------------
// Output helpers

function log(line) {
  process.stdout.write(`${line}\n`);
}

const fmt = (ms) => (ms === null || ms === undefined || Number.isNaN(ms) ? '-' : ms < 10 ? ms.toFixed(2) : ms.toFixed(1));

function median(values) {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function quantile(values, q) {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]; // nearest rank
}

const round3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);

function processCount() {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).length;
}

// ---------------------------------------------------------------------------------------------
// HTTP (keep-alive) and lsns

function get(agent, base, pathAndQuery, token, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const t0 = performance.now();
    const req = http.request(new URL(pathAndQuery, base), { agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${pathAndQuery}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function nsgateOnce(ctx) {
  const r = await get(ctx.agent, ctx.base, NAMESPACES_PATH, ctx.token);
  if (r.status !== 200) throw new Error(`GET ${NAMESPACES_PATH} answered ${r.status}: ${r.body.slice(0, 300)}`);
  const page = JSON.parse(r.body);
  if (page.nextCursor) throw new Error(`more than 5000 namespaces: the bench reads one page only`);
  return { ms: r.ms, namespaces: page.items.map((n) => ({ type: n.type, inode: Number(n.inode), count: n.processCount, pid: n.pid })) };
}

/** lsns -J nests a namespace under the one its lowest process's parent is in ("children",
 *  the tree lsns draws with └─); an inventory is every entry at every depth. */
function flattenLsns(entries, out = []) {
  for (const n of entries ?? []) {
    out.push({ type: n.type, inode: Number(n.ns), count: Number(n.nprocs), pid: Number(n.pid) });
    flattenLsns(n.children, out);
  }
  return out;
}

function lsnsOnce() {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('lsns', ['-J'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = performance.now() - t0; // spawn to exit, with all output read
      if (code !== 0) return reject(new Error(`lsns -J exited ${code ?? signal}: ${Buffer.concat(err).toString().slice(0, 300)}`));
      const doc = JSON.parse(Buffer.concat(out).toString('utf8'));
      resolve({ ms, namespaces: flattenLsns(doc.namespaces) });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The service

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function hasSetpriv() {
  return ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv'].some((p) => existsSync(p));
}

/** spawn(cmd, args) with, where setpriv exists, a parent-death signal: if the bench itself is
 *  SIGKILLed, the kernel still stops what it started. setpriv execs the command in place, so the
 *  pid is the command's. */
function spawnTied(signal, cmd, args, options) {
  return usePdeathsig ? spawn('setpriv', [`--pdeathsig=${signal}`, '--', cmd, ...args], options) : spawn(cmd, args, options);
}
const usePdeathsig = hasSetpriv();

async function startService() {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run \`npm run build\` first`);
  started.dataDir = mkdtempSync(path.join(os.tmpdir(), 'nsgate-bench-'));
  const logFile = path.join(started.dataDir, 'service.log');
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const fd = openSync(logFile, 'a');
    const child = spawnTied('TERM', process.execPath, [MAIN_JS], {
      cwd: REPO,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, NSGATE_DATA_DIR: started.dataDir, NSGATE_LISTEN: `127.0.0.1:${port}` },
    });
    closeSync(fd);
    started.service = child;
    child.on('error', () => {}); // reported through the exit check below
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const deadline = performance.now() + 60_000;
    let ok = false;
    while (!aborting && alive(child) && performance.now() < deadline) {
      try {
        const r = await get(agent, base, '/healthz', null, 2000);
        if (r.status === 200) {
          ok = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await delay(100);
    }
    agent.destroy();
    if (ok) {
      const token = readFileSync(path.join(started.dataDir, 'admin.token'), 'utf8').trim();
      return { base, token, pid: child.pid, logFile };
    }
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
    if (alive(child)) {
      await stopService();
      throw new Error(`service pid ${child.pid} did not answer /healthz within 60 s; log tail:\n${tail}`);
    }
    log(`service exited during start (attempt ${attempt}, code ${child.exitCode ?? child.signalCode}); log tail:\n${tail}`);
    if (!/EADDRINUSE/.test(tail)) break;
  }
  throw new Error('the service did not start');
}

// ---------------------------------------------------------------------------------------------
// Extra sleeping processes

async function startSleeps(n) {
  const t0 = performance.now();
  const failures = [];
  for (let i = 0; i < n && !aborting; i++) {
    const child = spawnTied('KILL', 'sleep', ['3600'], { stdio: 'ignore' });
    child.on('error', (err) => failures.push(err));
    if (child.pid !== undefined) started.sleeps.push(child);
    if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve)); // let signals and timers in
  }
  if (failures.length > 0) throw new Error(`${failures.length} of ${n} sleeps failed to start: ${failures[0].message}`);
  // all up: every pid alive and already `sleep` (setpriv has exec'd)
  const deadline = performance.now() + 60_000;
  let notYet = started.sleeps;
  while (!aborting && performance.now() < deadline) {
    notYet = notYet.filter((child) => {
      if (!alive(child)) return true;
      try {
        const comm = readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim();
        const state = readFileSync(`/proc/${child.pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
        return !(comm === 'sleep' && state !== 'Z' && state !== 'X');
      } catch {
        return true;
      }
    });
    if (notYet.length === 0) break;
    await delay(100);
  }
  const dead = started.sleeps.filter((c) => !alive(c)).length;
  if (started.sleeps.length !== n || notYet.length > 0 || dead > 0) {
    throw new Error(`wanted ${n} sleeps up: started ${started.sleeps.length}, ${notYet.length} not yet sleeping, ${dead} exited`);
  }
  return performance.now() - t0;
}

// ---------------------------------------------------------------------------------------------
// Measurements

function hostPidCount(namespaces, hostPidInode) {
  return namespaces.find((n) => n.type === 'pid' && n.inode === hostPidInode)?.count ?? null;
}

/** The namespaces of this process, which `lsns -J` (spawned from it) is in too: lsns counts
 *  itself in each of them, a scan taken before or after it does not. */
function ownNamespaces() {
  const own = new Set();
  for (const type of ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts']) {
    try {
      const m = /\[(\d+)\]/.exec(readlinkSync(`/proc/self/ns/${type}`));
      if (m) own.add(`${type}:${m[1]}`);
    } catch {
      // a type this kernel lacks
    }
  }
  return own;
}

/** Entry-for-entry comparison of one nsgate answer with one lsns answer taken right beside it. */
function compareInventories(ns, ls, own) {
  const key = (n) => `${n.type}:${n.inode}`;
  const a = new Map(ns.map((n) => [key(n), n]));
  const b = new Map(ls.map((n) => [key(n), n]));
  let both = 0;
  let samePid = 0;
  let sameCount = 0;
  const countDiffs = [];
  const pidDiffs = [];
  for (const [k, n] of a) {
    const m = b.get(k);
    if (!m) continue;
    both++;
    if (n.pid === m.pid) samePid++;
    else pidDiffs.push(`${k} nsgate ${n.pid} lsns ${m.pid}`);
    const expected = m.count - (own.has(k) ? 1 : 0);
    if (n.count === expected) sameCount++;
    else countDiffs.push(`${k} nsgate ${n.count} lsns ${m.count}${own.has(k) ? ' (incl. itself)' : ''}`);
  }
  const onlyNsgate = [...a.keys()].filter((k) => !b.has(k));
  const onlyLsns = [...b.keys()].filter((k) => !a.has(k));
  return {
    exact: onlyNsgate.length === 0 && onlyLsns.length === 0 && samePid === both && sameCount === both,
    both,
    onlyNsgate,
    onlyLsns,
    samePid,
    sameCount,
    pidDiffs,
    countDiffs,
  };
}

async function measurePhase(ctx, label, opts) {
  const procs = processCount();
  log(`\n== ${label}: ${procs} processes in /proc ==`);
  const warm = [];
  for (let i = 0; i < opts.warmup; i++) {
    warm.push((await nsgateOnce(ctx)).ms);
    await lsnsOnce();
  }
  if (warm.length) log(`${label} warm-up nsgate: ${warm.map(fmt).join(', ')} ms`);

  const nsgateMs = [];
  const lsnsMs = [];
  const rounds = [];
  let last = null;
  for (let r = 1; r <= opts.rounds && !aborting; r++) {
    // alternate which goes first, so a drift in machine load hits both alike
    let a;
    let b;
    if (r % 2) {
      a = await nsgateOnce(ctx);
      b = await lsnsOnce();
    } else {
      b = await lsnsOnce();
      a = await nsgateOnce(ctx);
    }
    nsgateMs.push(a.ms);
    lsnsMs.push(b.ms);
    const hn = hostPidCount(a.namespaces, ctx.hostPidInode);
    const hl = hostPidCount(b.namespaces, ctx.hostPidInode);
    rounds.push({ round: r, nsgateMs: round3(a.ms), lsnsMs: round3(b.ms), hostPidNsgate: hn, hostPidLsns: hl });
    last = { a, b };
    log(
      `${label} round ${String(r).padStart(2)}/${opts.rounds}  nsgate ${fmt(a.ms).padStart(7)} ms  lsns -J ${fmt(b.ms).padStart(7)} ms` +
        `  (${r % 2 ? 'nsgate first' : 'lsns first'}; host pid ns: nsgate ${hn}, lsns ${hl})`,
    );
  }
  const mNs = median(nsgateMs);
  const mLs = median(lsnsMs);
  const ratio = mNs / mLs;
  log(`${label} median: nsgate ${fmt(mNs)} ms, lsns -J ${fmt(mLs)} ms, ratio nsgate/lsns ${ratio.toFixed(3)}` +
    `  (nsgate min ${fmt(Math.min(...nsgateMs))} max ${fmt(Math.max(...nsgateMs))}; lsns min ${fmt(Math.min(...lsnsMs))} max ${fmt(Math.max(...lsnsMs))})`);

  // Correctness: the host pid namespace's process count, nsgate vs lsns. lsns counts itself,
  // nsgate's scan does not see it; other processes on the machine may come and go in between.
  const tolerance = Math.max(5, Math.ceil(0.01 * procs));
  const diffs = rounds.map((r) => (r.hostPidNsgate ?? NaN) - ((r.hostPidLsns ?? NaN) - 1));
  const agreeing = diffs.filter((d) => Math.abs(d) <= tolerance).length;
  const check = {
    hostPidInode: ctx.hostPidInode,
    tolerance,
    roundsAgreeing: agreeing,
    rounds: rounds.length,
    diffMin: Math.min(...diffs),
    diffMax: Math.max(...diffs),
    ok: rounds.length > 0 && agreeing * 2 > rounds.length,
  };
  log(`${label} check: host pid ns ${ctx.hostPidInode} processCount nsgate = lsns NPROCS - 1 (lsns itself) within ±${tolerance} in ${agreeing}/${rounds.length} rounds` +
    ` (nsgate - (lsns-1) from ${check.diffMin} to ${check.diffMax}) → ${check.ok ? 'OK' : 'MISMATCH'}`);
  let inventory = null;
  if (last) {
    inventory = compareInventories(last.a.namespaces, last.b.namespaces, ctx.ownNamespaces);
    log(`${label} last round, entry for entry (${inventory.exact ? 'exact' : 'NOT exact'}): ${inventory.both} namespaces in both, only nsgate [${inventory.onlyNsgate.join(', ')}], only lsns [${inventory.onlyLsns.join(', ')}];` +
      ` same lowest pid ${inventory.samePid}/${inventory.both}${inventory.pidDiffs.length ? ` [${inventory.pidDiffs.join('; ')}]` : ''},` +
      ` same count ${inventory.sameCount}/${inventory.both} (lsns's own +1 allowed)${inventory.countDiffs.length ? ` [${inventory.countDiffs.join('; ')}]` : ''}`);
  }

  const healthz = await measureHealthz(ctx, label, opts);
  return {
    label,
    processes: procs,
    warmupNsgateMs: warm.map(round3),
    nsgateMedianMs: round3(mNs),
    lsnsMedianMs: round3(mLs),
    ratio: round3(ratio),
    rounds,
    check,
    inventory,
    healthz,
  };
}

/** /healthz latency: a quiet baseline, then while a second client runs namespace scans back-to-back. */
async function measureHealthz(ctx, label, opts) {
  if (opts.healthSamples === 0) return null;
  const hAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sample = async (n) => {
    const ms = [];
    let non200 = 0;
    const t0 = performance.now();
    for (let i = 0; i < n && !aborting; i++) {
      const r = await get(hAgent, ctx.base, '/healthz', null, 10_000);
      if (r.status === 200) ms.push(r.ms);
      else non200++;
      const next = t0 + (i + 1) * opts.healthIntervalMs;
      const wait = next - performance.now();
      if (wait > 0) await delay(wait);
    }
    return { ms, non200 };
  };
  try {
    await get(hAgent, ctx.base, '/healthz', null, 10_000); // open the connection
    const quiet = await sample(Math.min(100, opts.healthSamples));

    let scanning = true;
    let scans = 0;
    const scanMs = [];
    const scanAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const loop = (async () => {
      while (scanning && !aborting) {
        const r = await nsgateOnce({ ...ctx, agent: scanAgent });
        scans++;
        scanMs.push(r.ms);
      }
    })();
    const tStart = performance.now();
    let busy;
    try {
      busy = await sample(opts.healthSamples);
    } finally {
      scanning = false;
      await loop.finally(() => scanAgent.destroy());
    }
    const seconds = (performance.now() - tStart) / 1000;
    const stats = (s) => ({ n: s.ms.length, non200: s.non200, p50: round3(quantile(s.ms, 0.5)), p99: round3(quantile(s.ms, 0.99)), max: round3(s.ms.length ? Math.max(...s.ms) : null) });
    const result = {
      quiet: stats(quiet),
      duringScans: { ...stats(busy), scans, scansPerSecond: round3(scans / seconds), scanMedianMs: round3(median(scanMs)) },
    };
    result.meetsTarget = result.duringScans.p99 !== null && result.duringScans.p99 < HEALTHZ_P99_TARGET_MS;
    log(`${label} /healthz quiet: p50 ${fmt(result.quiet.p50)} ms, p99 ${fmt(result.quiet.p99)} ms (n=${result.quiet.n})`);
    log(`${label} /healthz during back-to-back scans: p50 ${fmt(result.duringScans.p50)} ms, p99 ${fmt(result.duringScans.p99)} ms, max ${fmt(result.duringScans.max)} ms` +
      ` (n=${result.duringScans.n}${busy.non200 ? `, ${busy.non200} not 200` : ''}; ${scans} scans in ${seconds.toFixed(1)} s, scan median ${fmt(result.duringScans.scanMedianMs)} ms)` +
      ` → target p99 < ${HEALTHZ_P99_TARGET_MS} ms ${result.meetsTarget ? 'met' : 'MISSED'}`);
    return result;
  } finally {
    hAgent.destroy();
  }
}

// ---------------------------------------------------------------------------------------------

function hostPidNamespaceInode() {
  const link = readlinkSync('/proc/self/ns/pid'); // pid:[4026531836]
  const m = /\[(\d+)\]/.exec(link);
  if (!m) throw new Error(`cannot read /proc/self/ns/pid: ${link}`);
  return Number(m[1]);
}

function externalService() {
  const url = process.env.NSGATE_URL;
  const token = process.env.NSGATE_TOKEN;
  if (!url && !token) return null;
  if (!url || !token) throw new Error('set both NSGATE_URL and NSGATE_TOKEN, or neither');
  const u = new URL(url);
  if (u.protocol !== 'http:') throw new Error(`NSGATE_URL must be http:// (got ${u.protocol})`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (!(net.isIP(host) && (host === '::1' || host.startsWith('127.'))) && host !== 'localhost') {
    throw new Error(`NSGATE_URL must be a loopback address on this host (the bench compares with this host's lsns), not ${u.hostname}`);
  }
  return { base: u.origin, token, pid: null, logFile: null };
}

function table(phases, extra) {
  const lines = [
    '| processes | nsgate median ms | lsns -J median ms | ratio nsgate/lsns | target |',
    '|---|---:|---:|---:|---|',
  ];
  for (const p of phases) {
    const isExtra = p.label !== 'idle';
    const target = isExtra ? `≤ ${RATIO_TARGET}${extra === 2000 ? '' : ' (set at +2000)'}: ${p.ratio <= RATIO_TARGET ? 'met' : 'missed'}` : '-';
    lines.push(`| ${p.label} (${p.processes}) | ${fmt(p.nsgateMedianMs)} | ${fmt(p.lsnsMedianMs)} | ${p.ratio.toFixed(3)} | ${target} |`);
  }
  lines.push('', `| processes | /healthz p50 ms, quiet | /healthz p50 ms, scans running | /healthz p99 ms, scans running | max ms | scans/s | target p99 < ${HEALTHZ_P99_TARGET_MS} ms |`, '|---|---:|---:|---:|---:|---:|---|');
  for (const p of phases) {
    const h = p.healthz;
    if (!h) continue;
    lines.push(`| ${p.label} (${p.processes}) | ${fmt(h.quiet.p50)} | ${fmt(h.duringScans.p50)} | ${fmt(h.duringScans.p99)} | ${fmt(h.duringScans.max)} | ${h.duringScans.scansPerSecond.toFixed(1)} | ${h.meetsTarget ? 'met' : 'missed'} |`);
  }
  return lines.join('\n');
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  const timer = setTimeout(() => void abort(`over the --timeout of ${opts.timeoutS} s`, 3), opts.timeoutS * 1000);
  const t0 = performance.now();
  try {
    const service = externalService() ?? (await startService());
    const ctx = {
      base: service.base,
      token: service.token,
      agent: new http.Agent({ keepAlive: true, maxSockets: 1 }),
      hostPidInode: hostPidNamespaceInode(),
      ownNamespaces: ownNamespaces(),
    };
    log(`bench/namespaces: node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    log(`service ${service.base}${service.pid ? ` (pid ${service.pid}, started by the bench, log ${service.logFile})` : ' (external)'};` +
      ` GET ${NAMESPACES_PATH}, keep-alive; ${opts.rounds} rounds, ${opts.warmup} warm-up; parent-death signal ${usePdeathsig ? 'via setpriv' : 'unavailable'}`);

    const phases = [await measurePhase(ctx, 'idle', opts)];
    if (opts.extra > 0 && !aborting) {
      const ms = await startSleeps(opts.extra);
      log(`\nstarted ${opts.extra} × \`sleep 3600\` in ${(ms / 1000).toFixed(1)} s; all ${started.sleeps.length} pids alive and sleeping`);
      const loaded = await measurePhase(ctx, `+${opts.extra}`, opts);
      const idleHost = phases[0].rounds.at(-1)?.hostPidNsgate;
      const loadedHost = loaded.rounds.at(-1)?.hostPidNsgate;
      loaded.check.deltaVsIdle = loadedHost - idleHost;
      log(`+${opts.extra} check: host pid ns count grew by ${loadedHost - idleHost} over idle in nsgate's answer (expected ≈ ${opts.extra})`);
      phases.push(loaded);
    }
    ctx.agent.destroy();
    await cleanup();

    const ok = phases.every((p) => p.check.ok);
    const last = phases.at(-1);
    log(`\n${table(phases, opts.extra)}\n`);
    log(`answers agree with lsns: ${ok ? 'yes' : 'NO'}; total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    log(
      JSON.stringify({
        bench: 'namespaces',
        when: new Date().toISOString(),
        node: process.version,
        cpus: os.cpus().length,
        loadavg: os.loadavg().map(round3),
        options: opts,
        ratioTarget: RATIO_TARGET,
        ratioTargetMet: opts.extra > 0 ? last.ratio <= RATIO_TARGET : null,
        healthzP99TargetMs: HEALTHZ_P99_TARGET_MS,
        answersAgree: ok,
        phases,
      }),
    );
    process.exitCode = ok ? 0 : 1;
  } finally {
    clearTimeout(timer);
    await cleanup();
  }
}

main().catch(async (err) => {
  if (exiting) return; // a request cut off by our own shutdown (SIGINT, timeout): not news
  process.stderr.write(`bench: ${err?.stack ?? err}\n`);
  await abort('error', 1);
});
