// The Docker guest's entry (test/vm/docker-v2.vm.ts; run by /init with nsgate.docker=1, which
// has mounted the v2 tree with nsdelegate and started the Docker Engine and `docker load` in the
// background). It waits for the engine and the image, starts the built nsgate (/app/dist/main.js)
// on its defaults (listen 127.0.0.1:7070, state in /var/lib/nsgate, DOCKER_HOST the default
// socket, managed and internal cgroups /nsgate), takes the admin token nsgate wrote and adds an
// operator and a viewer token with the token store the CLI uses, then runs docker-cases.mjs.
// Suites reported: `setup` (setupCases below) and `docker` (docker-cases.mjs).
import { execFile, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { dockerCases } from './docker-cases.mjs';
import { assert, runCases } from './protocol.mjs';

const BASE = 'http://127.0.0.1:7070';
const STATE = '/run/nsgate-vm';
const uptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
const mark = (name) => (existsSync(`${STATE}/${name}`) ? Number(readFileSync(`${STATE}/${name}`, 'utf8').trim()) : null);
const tail = (file, n = 15) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').slice(-n).join('\n') : `(no ${file})`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** A progress line on the console (not a case line: the host ignores it, the log keeps it). */
const progress = (msg) => console.log(`nsgate-vm: [${uptime().toFixed(1)} s] ${msg}`);

/** Guest seconds since boot at each step (from /proc/uptime). */
const timings = { nodeStarted: uptime() };

async function waitFor(check, timeoutMs = 10_000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

function docker(args, { timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile('docker', args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`docker ${args.join(' ')} failed: ${(stderr || err.message).trim()}`));
      else resolve(stdout.trim());
    });
  });
}

const tokens = {};
async function api(method, url, { as = 'viewer', body } = {}) {
  const headers = { authorization: `Bearer ${tokens[as]}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${BASE}${url}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** A server-sent events stream (GET), parsed as events.e2e.ts's client does. */
function sse(path, as = 'viewer') {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${BASE}${path}`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${tokens[as]}` }, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      const client = { status: res.statusCode, events: [], raw: '', close: () => req.destroy() };
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        client.raw += chunk;
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = {};
          for (const line of block.split('\n')) {
            if (!line || line.startsWith(':')) continue;
            const at = line.indexOf(':');
            fields[line.slice(0, at)] = line.slice(at + 1).replace(/^ /, '');
          }
          if (fields.data !== undefined) client.events.push({ id: fields.id ?? '', event: fields.event ?? 'message', data: JSON.parse(fields.data) });
        }
      });
      res.on('error', () => undefined);
      client.next = async (match, timeoutMs = 20_000) => {
        let found;
        await waitFor(async () => (found = client.events.find(match)) !== undefined, timeoutMs, 50).catch(() => {
          throw new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(client.events.map((e) => [e.event, e.data.target]))}`);
        });
        return found;
      };
      resolve(client);
    });
    req.end();
  });
}

const children = new Set();
/** A process of the guest's own (in the root cgroup), killed at the end. */
function spawnHere(argv, { stdin = false } = {}) {
  const child = spawn(argv[0], argv.slice(1), { stdio: [stdin ? 'pipe' : 'ignore', 'ignore', 'ignore'] });
  children.add(child);
  return child;
}

const sharedState = {};
let ready = false;

// nsgate first: its start (loading Nest and its modules under tcg) is the slowest step, and it
// needs no engine to start (the engine is looked up per request; the events feed reconnects).
progress('starting nsgate');
timings.nsgateSpawned = uptime();
const nsgateLog = openSync('/tmp/nsgate.log', 'a');
// No settings: every default (README, Configuration) fits this host; only a quieter log.
const nsgate = spawn(process.execPath, ['/app/dist/main.js'], { cwd: '/app', stdio: ['ignore', nsgateLog, nsgateLog], env: { PATH: process.env.PATH, HOME: '/root', NSGATE_LOG_LEVEL: 'warn' } });
nsgate.once('exit', (code, signal) => {
  if (!ready) console.log(`nsgate exited early: code=${code} signal=${signal}\n${tail('/tmp/nsgate.log', 30)}`);
});
const setupCases = [
  {
    name: 'the Docker Engine starts on the v2 host and loads the test image',
    async run(t) {
      progress('waiting for the engine');
      await waitFor(async () => mark('image-loaded') !== null || mark('image-failed') !== null || mark('engine-failed') !== null, 330_000, 100).catch(() => {
        throw new Error(`no engine within 330 s; dockerd.log:\n${tail(`${STATE}/dockerd.log`, 40)}\ncontainerd.log:\n${tail(`${STATE}/containerd.log`, 20)}`);
      });
      progress('engine and image ready (or failed)');
      Object.assign(timings, { engineStart: mark('engine-start'), containerdReady: mark('containerd-ready'), engineReady: mark('engine-ready'), imageLoaded: mark('image-loaded') });
      if (mark('engine-failed') !== null) throw new Error(`the engine did not answer; dockerd.log:\n${tail(`${STATE}/dockerd.log`, 40)}\ncontainerd.log:\n${tail(`${STATE}/containerd.log`, 20)}`);
      if (mark('image-failed') !== null) throw new Error(`docker load failed: ${tail(`${STATE}/load.log`)}`);
      const info = JSON.parse(await docker(['info', '--format', '{{json .}}']));
      t.detail.engine = { version: info.ServerVersion, cgroupVersion: info.CgroupVersion, cgroupDriver: info.CgroupDriver, storage: info.Driver, swapLimit: info.SwapLimit };
      assert.equal([info.CgroupVersion, info.CgroupDriver], ['2', 'cgroupfs'], 'a v2 host, cgroupfs driver');
      // swap accounting is the kernel's (swapaccount=1); the limits case checks memory.swap.max
      assert.ok(readFileSync('/proc/cmdline', 'utf8').split(/\s+/).includes('swapaccount=1'), 'booted with swapaccount=1');
      // Docker looks for memory.swap.max in its own cgroup (init.sh: /system.slice/docker.service)
      if (existsSync('/run/docker.pid')) t.detail.engine.cgroup = readFileSync(`/proc/${readFileSync('/run/docker.pid', 'utf8').trim()}/cgroup`, 'utf8').trim();
      assert.ok(info.SwapLimit, 'Docker sees swap accounting (SwapLimit)');
      assert.ok((await docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'])).split('\n').includes('nsgate/busybox:test'), 'the test image is there');
    },
  },
  {
    name: 'nsgate starts on its defaults, writes its admin token, and answers /readyz with the engine up',
    async run(t) {
      await waitFor(async () => nsgate.exitCode === null && existsSync('/var/lib/nsgate/admin.token'), 400_000, 100).catch(() => {
        throw new Error(`no /var/lib/nsgate/admin.token; nsgate.log:\n${tail('/tmp/nsgate.log', 30)}`);
      });
      tokens.admin = readFileSync('/var/lib/nsgate/admin.token', 'utf8').trim();
      await waitFor(async () => (await fetch(`${BASE}/healthz`).catch(() => null))?.status === 200, 400_000, 100).catch(() => {
        throw new Error(`no /healthz; nsgate.log:\n${tail('/tmp/nsgate.log', 30)}`);
      });
      timings.nsgateListening = uptime();
      progress('nsgate listening');
      // operator and viewer tokens through the token store `npm run token -- add` uses
      const { addToken } = await import('../../../dist/auth/token-store.js');
      tokens.operator = await addToken('/var/lib/nsgate/tokens.json', 'ops', 'operator');
      tokens.viewer = await addToken('/var/lib/nsgate/tokens.json', 'grafana', 'viewer');
      await waitFor(async () => (await api('GET', '/v1/host')).status === 200, 10_000, 100);
      // The engine answered docker info above; nsgate sees it once its next check runs.
      let readyz;
      await waitFor(async () => {
        const res = await fetch(`${BASE}/readyz`, { headers: { authorization: `Bearer ${tokens.viewer}` } });
        readyz = { status: res.status, body: await res.json().catch(() => null) };
        return readyz.body?.checks?.docker?.status === 'ok';
      }, 120_000, 1000).catch(() => undefined);
      t.detail.readyz = readyz;
      assert.equal([readyz.status, readyz.body?.checks?.docker?.status], [200, 'ok'], `readyz ${JSON.stringify(readyz.body)}`);
      const host = (await api('GET', '/v1/host')).body;
      t.detail.host = { cgroupMode: host.cgroupMode, kernel: host.kernel };
      assert.equal(host.cgroupMode, 'v2', 'GET /v1/host cgroupMode');
      timings.nsgateReady = uptime();
      ready = true;
    },
  },
];

let failed = await runCases('setup', setupCases, (detail) => ({ detail }));
failed += await runCases(
  'docker',
  dockerCases.map((c) => ({
    name: c.name,
    run: (t) => {
      if (!ready) throw new Error('setup failed: no engine or no nsgate (see the setup cases)');
      progress(c.name);
      return c.run(t);
    },
  })),
  (detail) => ({ api, sse, docker, assert, detail, state: sharedState, waitFor, spawnHere }),
);
timings.suiteDone = uptime();
console.log(JSON.stringify({ suite: 'timings', case: '(timings)', ok: true, ...timings }));

for (const child of children) child.kill('SIGKILL');
if (failed && existsSync('/tmp/nsgate.log')) console.log(`--- nsgate.log (last lines) ---\n${tail('/tmp/nsgate.log', 40)}`);
nsgate.kill('SIGTERM');
process.exitCode = failed ? 1 : 0;
