// Shared helpers for the benches in this folder: arguments, the private Docker Engine (lease,
// test image, docker CLI, raw HTTP over its socket), nsgate started as a child, keep-alive HTTP
// clients that time each call, medians and a plain table. No dependencies beyond Node itself.
//
// Safety (MACHINE.md): loopback and the private engine's socket only; every loop is bounded;
// only processes started here are signalled, by pid; cleanups run in `finally` and on SIGINT/SIGTERM.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ENGINE_SOCKET = '/run/nsgate-test/docker.sock';
export const ENGINE_HOST = `unix://${ENGINE_SOCKET}`;
export const TEST_IMAGE = 'nsgate/busybox:test';

// ---------------------------------------------------------------------------------------------
// arguments, small utilities

/**
 * `--name value` flags with defaults; numbers are parsed and checked against [min, max].
 * spec: { rounds: { default: 5, min: 1, max: 50, help: '...' }, build: { type: 'boolean', default: true },
 *         dir: { type: 'string', default: '/tmp' } }; booleans also take --no-NAME.
 */
export function args(spec, usage) {
  const options = { help: { type: 'boolean', short: 'h' } };
  for (const [name, s] of Object.entries(spec)) {
    options[name] = { type: s.type === 'boolean' ? 'boolean' : 'string' };
    if (s.type === 'boolean') options[`no-${name}`] = { type: 'boolean' };
  }
  let values;
  try {
    ({ values } = parseArgs({ options, strict: true, allowPositionals: false }));
  } catch (err) {
    process.stderr.write(`${err.message}\n(see --help)\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n\noptions:\n`);
    for (const [name, s] of Object.entries(spec)) {
      const flag = s.type === 'boolean' ? `--[no-]${name}` : s.type === 'string' ? `--${name} S` : `--${name} N`;
      process.stdout.write(`  ${flag.padEnd(22)} ${s.help ?? ''} (default ${s.default})\n`);
    }
    process.exit(0);
  }
  const out = {};
  for (const [name, s] of Object.entries(spec)) {
    if (s.type === 'boolean') {
      out[name] = values[`no-${name}`] ? false : values[name] ? true : s.default;
      continue;
    }
    const raw = values[name];
    if (s.type === 'string') {
      out[name] = raw ?? s.default;
      continue;
    }
    const n = raw === undefined ? s.default : Number(raw);
    if (!Number.isInteger(n) || n < (s.min ?? 0) || n > (s.max ?? Number.MAX_SAFE_INTEGER)) {
      process.stderr.write(`--${name} must be an integer from ${s.min ?? 0} to ${s.max ?? 'inf'}, not "${raw}" (see --help)\n`);
      process.exit(2);
    }
    out[name] = n;
  }
  return out;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const randomTag = () => randomBytes(4).toString('hex');
export const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/).slice(0, 3).map(Number);
export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
export const log = (...parts) => process.stderr.write(`[bench] ${parts.join(' ')}\n`);

/** Times an async (or sync) function; returns { ms, value }. */
export async function timed(fn) {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, value };
}

// ---------------------------------------------------------------------------------------------
// statistics and output

export function median(xs) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function quantile(xs, q) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** median, p10, p90, min, max and n of a list of milliseconds. */
export function summary(xs) {
  return { n: xs.length, median: median(xs), p10: quantile(xs, 0.1), p90: quantile(xs, 0.9), min: Math.min(...xs), max: Math.max(...xs) };
}

export function fmtMs(ms) {
  if (!Number.isFinite(ms)) return '-';
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

export function fmtRatio(r) {
  if (!Number.isFinite(r)) return '-';
  if (r >= 10) return r.toFixed(0);
  if (r >= 0.1) return r.toFixed(2);
  return `1/${(1 / r).toFixed(0)}`;
}

/**
 * A Markdown table, padded so it reads as well in a terminal as pasted into a README: the first
 * column is a label (left-aligned), the others are figures (right-aligned).
 */
export function table(header, rows) {
  const all = [header, ...rows].map((r) => r.map((c) => String(c ?? '')));
  const widths = header.map((_, i) => Math.max(3, ...all.map((r) => r[i].length)));
  const line = (r) => `| ${r.map((c, i) => (i > 0 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i > 0 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(all[0]), rule, ...all.slice(1).map(line)].join('\n');
}

/** Rounds numbers in a result object for the JSON line (3 decimals). */
export function rounded(value) {
  return JSON.parse(JSON.stringify(value, (_, v) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v)));
}

// ---------------------------------------------------------------------------------------------
// cleanup, also on Ctrl-C

const cleanups = [];
let cleaning = null;
let abortCode = null;

/** True once a signal or the --timeout asked the bench to stop: loops should end. */
export const aborted = () => abortCode !== null;

/** Registers a cleanup (LIFO). Runs once, from runCleanups() at the end or on a signal or timeout. */
export function onCleanup(name, fn) {
  cleanups.push({ name, fn });
}

export async function runCleanups() {
  cleaning ??= (async () => {
    while (cleanups.length) {
      const { name, fn } = cleanups.pop();
      try {
        await fn();
      } catch (err) {
        log(`cleanup "${name}" failed: ${err.message}`);
      }
    }
  })();
  return cleaning;
}

function abort(reason, code) {
  if (abortCode !== null) return;
  abortCode = code;
  log(`${reason}: cleaning up`);
  runCleanups().finally(() => process.exit(code));
}
process.once('SIGINT', () => abort('SIGINT', 130));
process.once('SIGTERM', () => abort('SIGTERM', 143));
process.once('SIGHUP', () => abort('SIGHUP', 129));

/**
 * Runs a bench: fn() resolves true when its checks passed. Exit status: 0 checks passed (speed
 * targets missed or not), 1 a check failed or the bench failed, 2 bad options, 3 the --timeout
 * ran out, 128+n a signal. Cleanups run in every case.
 */
export async function runBench(name, fn, { timeoutS = 600 } = {}) {
  const timer = setTimeout(() => abort(`${name}: --timeout ${timeoutS} s ran out`, 3), timeoutS * 1000);
  timer.unref();
  let code = 1;
  try {
    code = (await fn()) ? 0 : 1;
  } catch (err) {
    if (abortCode === null) console.error(`${name} failed: ${err.stack ?? err}`);
  } finally {
    clearTimeout(timer);
    await runCleanups();
  }
  process.exit(abortCode ?? code);
}

// ---------------------------------------------------------------------------------------------
// child processes

/** Runs a command to completion (bounded by timeoutMs); resolves { stdout, stderr, ms }, rejects on non-zero exit. */
export function run(cmd, argv, { timeoutMs = 120_000, cwd = ROOT, env = process.env } = {}) {
  return new Promise((resolveRun, reject) => {
    const t0 = nowMs();
    execFile(cmd, argv, { cwd, env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const ms = nowMs() - t0;
      if (err) {
        err.message = `${cmd} ${argv.join(' ')}: ${err.message}${stderr ? `\n${stderr.trim()}` : ''}`;
        reject(err);
      } else resolveRun({ stdout, stderr, ms });
    });
  });
}

/** The docker CLI against the private engine only. */
export const docker = (argv, opts) => run('docker', ['-H', ENGINE_HOST, ...argv], opts);

// ---------------------------------------------------------------------------------------------
// HTTP with keep-alive, timed

/**
 * A keep-alive client for one endpoint: { host, port } on loopback, or { socketPath }.
 * client.request(method, path, body?) resolves { status, body (parsed JSON when it is), ms }.
 */
export function client({ host, port, socketPath, token, maxSockets = 32, timeoutMs = 30_000 }) {
  if (host && !/^(127\.|::1$|localhost$)/.test(host)) throw new Error(`loopback only, not ${host}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  const request = (method, path, body) =>
    new Promise((resolveReq, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const headers = { accept: 'application/json', host: socketPath ? 'docker' : `${host}:${port}` };
      if (payload) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = payload.length;
      }
      if (token) headers.authorization = `Bearer ${token}`;
      const t0 = process.hrtime.bigint();
      const req = http.request({ agent, method, path, headers, timeout: timeoutMs, ...(socketPath ? { socketPath } : { host, port }) }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const ms = Number(process.hrtime.bigint() - t0) / 1e6;
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed = text;
          if ((res.headers['content-type'] ?? '').includes('json') && text) {
            try {
              parsed = JSON.parse(text);
            } catch {
              /* keep the text */
            }
          }
          resolveReq({ status: res.statusCode, body: parsed, ms });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  /** Like request, but throws unless the status is 2xx (or `expect`). */
  const ok = async (method, path, body, expect) => {
    const res = await request(method, path, body);
    const good = expect ? [].concat(expect).includes(res.status) : res.status >= 200 && res.status < 300;
    if (!good) throw new Error(`${method} ${path} -> ${res.status} ${typeof res.body === 'string' ? res.body : JSON.stringify(res.body)}`.slice(0, 600));
    return res;
  };
  return { request, ok, close: () => agent.destroy() };
}

// ---------------------------------------------------------------------------------------------
// the private Docker Engine

export const engineClient = (opts = {}) => client({ socketPath: ENGINE_SOCKET, ...opts });

export async function engineAnswers() {
  if (!existsSync(ENGINE_SOCKET)) return false;
  const c = engineClient({ timeoutMs: 5000 });
  try {
    return (await c.request('GET', '/_ping')).status === 200;
  } catch {
    return false;
  } finally {
    c.close();
  }
}

/**
 * Takes a lease on the private engine for this process (starting it when it does not answer;
 * a start by us is marked as a harness start, so the last lease to go stops it), builds the
 * test image when missing, and registers the release.
 */
export async function useEngine() {
  const answered = await engineAnswers();
  if (!answered) log('the private engine does not answer; starting it (docker/start-engine.sh)');
  const started = await run('bash', ['docker/start-engine.sh', '--lease', String(process.pid), '--mark-harness'], { timeoutMs: 120_000 });
  onCleanup('release the engine lease', () => run('bash', ['docker/stop-engine.sh', '--release', String(process.pid)], { timeoutMs: 120_000 }));
  await run('bash', ['docker/build-test-image.sh'], { timeoutMs: 300_000 });
  const version = (await docker(['version', '--format', '{{.Server.Version}}'])).stdout.trim();
  return { version, startedByUs: started.stdout.trim().endsWith('started') };
}

/** Runs one test container (busybox sleep, no network, labelled); returns its full id. */
export async function runContainer(name, { label = {} } = {}) {
  const labels = Object.entries({ 'nsgate.test': '1', ...label }).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
  const { stdout } = await docker(['run', '-d', '--network', 'none', ...labels, '--name', name, TEST_IMAGE, 'sleep', '3600'], { timeoutMs: 120_000 });
  return stdout.trim().split('\n').pop();
}

/** Removes containers by id or name (docker rm -f), in batches. */
export async function removeContainers(ids) {
  for (let i = 0; i < ids.length; i += 25) {
    await docker(['rm', '-f', ...ids.slice(i, i + 25)], { timeoutMs: 120_000 }).catch((err) => log(`docker rm -f: ${err.message}`));
  }
}

/**
 * Starts `count` test containers named `${prefix}-${i}` and labelled nsgate.bench=<tag>,
 * `parallel` at a time. At cleanup (the end, Ctrl-C, timeout) it removes exactly them, also
 * those still being started then and any other with its label. Resolves { ids, ms }.
 */
export async function startBenchContainers({ count, parallel, prefix, tag }) {
  const ids = [];
  const inflight = new Set();
  let stopping = false;
  onCleanup(`remove the ${count} bench containers`, async () => {
    stopping = true;
    await Promise.allSettled([...inflight]);
    const labelled = (await docker(['ps', '-aq', '--no-trunc', '--filter', `label=nsgate.bench=${tag}`]).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean);
    const all = [...new Set([...ids.filter(Boolean), ...labelled])];
    if (all.length) {
      log(`removing ${all.length} containers`);
      await removeContainers(all);
    }
  });
  const started = await timed(async () => {
    let next = 0;
    const worker = async () => {
      while (!stopping && !aborted() && next < count) {
        const i = next++;
        const p = runContainer(`${prefix}-${i}`, { label: { 'nsgate.bench': tag } });
        inflight.add(p);
        try {
          ids[i] = await p;
        } finally {
          inflight.delete(p);
        }
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  });
  return { ids, ms: started.ms };
}

// ---------------------------------------------------------------------------------------------
// nsgate as a child process

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].some((p) => existsSync(p));

/** A free loopback TCP port (bound then released). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/** npm run build (tsc) unless told not to; dist/main.js must exist after. */
export async function build({ skip = false } = {}) {
  if (!skip) {
    log('npm run build');
    await run('npm', ['run', '--silent', 'build'], { timeoutMs: 600_000 });
  }
  if (!existsSync(join(ROOT, 'dist/main.js'))) throw new Error('dist/main.js is missing: run npm run build first (or pass --build)');
}

/**
 * Starts `node dist/main.js` on 127.0.0.1:<free port> with a temporary data folder (in
 * `dataParent`, default the OS temp folder: its audit log is fdatasync'ed per change); waits for
 * /healthz; returns { pid, port, token, dataDir, http (keep-alive client with the admin token), stop() }.
 * Registers its stop (TERM by pid, then KILL) and the removal of the data folder as cleanups.
 * nodeArgs go to node before the script (e.g. --cpu-prof). The service runs in its own process
 * group, so a Ctrl-C reaches the bench only, which then cleans up through it and stops it; its log
 * goes to <dataDir>/service.log.
 */
export async function startNsgate({ managed = '/nsgate-bench', env = {}, readyTimeoutMs = 60_000, dataParent = tmpdir(), nodeArgs = [] } = {}) {
  const dataDir = mkdtempSync(join(dataParent, 'nsgate-bench-'));
  onCleanup('remove the data folder', () => rmSync(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const logFile = join(dataDir, 'service.log');
  const out = openSync(logFile, 'a');
  // setpriv --pdeathsig: should the bench itself be SIGKILLed, the kernel still stops the service
  // (setpriv execs node in place, so the pid is the service's)
  const argv = [...nodeArgs, join(ROOT, 'dist/main.js')];
  const tied = SETPRIV ? ['setpriv', ['--pdeathsig=TERM', '--', process.execPath, ...argv]] : [process.execPath, argv];
  const child = spawn(tied[0], tied[1], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', out, out],
    env: {
      ...process.env,
      NSGATE_DATA_DIR: dataDir,
      NSGATE_LISTEN: `127.0.0.1:${port}`,
      NSGATE_MANAGED_CGROUPS: managed,
      DOCKER_HOST: ENGINE_HOST,
      ...env,
    },
  });
  closeSync(out);
  let exited = null;
  const exitPromise = new Promise((r) => child.once('exit', (code, signal) => r((exited = { code, signal }))));
  const stop = async () => {
    if (exited) return;
    process.kill(child.pid, 'SIGTERM');
    const t = await Promise.race([exitPromise, sleep(10_000).then(() => null)]);
    if (!t && !exited) {
      log(`nsgate (pid ${child.pid}) still running 10 s after TERM: KILL`);
      process.kill(child.pid, 'SIGKILL');
      await Promise.race([exitPromise, sleep(5_000)]);
    }
  };
  onCleanup('stop nsgate', stop);

  const probe = client({ host: '127.0.0.1', port, timeoutMs: 2000 });
  const deadline = nowMs() + readyTimeoutMs;
  try {
    for (;;) {
      if (exited) throw new Error(`nsgate exited (${JSON.stringify(exited)}) before answering; log: ${tail(logFile)}`);
      const res = await probe.request('GET', '/healthz').catch(() => null);
      if (res?.status === 200) break;
      if (nowMs() > deadline) throw new Error(`nsgate did not answer /healthz within ${readyTimeoutMs} ms; log: ${tail(logFile)}`);
      await sleep(100);
    }
  } finally {
    probe.close();
  }
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const api = client({ host: '127.0.0.1', port, token });
  onCleanup('close the nsgate client', () => api.close());
  return { pid: child.pid, port, token, dataDir, logFile, http: api, stop };
}

function tail(file, n = 15) {
  try {
    return `\n${readFileSync(file, 'utf8').trim().split('\n').slice(-n).join('\n')}`;
  } catch {
    return '(none)';
  }
}

// ---------------------------------------------------------------------------------------------
// cgroup v1 mounts (read from mountinfo, never assumed)

/** The mount point of the v1 hierarchy carrying `controller` (e.g. memory), or null. */
export function v1MountOf(controller) {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!right) continue;
    const [fstype, , superOpts = ''] = right.split(' ');
    if (fstype !== 'cgroup') continue;
    if (superOpts.split(',').includes(controller)) return left.split(' ')[4].replace(/\\040/g, ' ');
  }
  return null;
}

/** Every cgroup v1/v2 mount point (for a fallback rmdir of cgroups the bench made). */
export function cgroupMounts() {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - cgroup2? /.test(l))
    .map((l) => l.split(' ')[4].replace(/\\040/g, ' '));
}
