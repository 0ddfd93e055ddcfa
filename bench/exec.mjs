#!/usr/bin/env node
// bench/exec: the time of one `true` run inside a container's namespaces, in alternating rounds:
//   kernel   NamespaceExecutor.exec (dist/kernel/exec), the default: the target's confinement (the
//            helper reads it, seccomp filters through ptrace, and joins the container's cgroups)
//   kernelPriv  the same with privileged: true: per-exec cgroup, host root (nsenter's semantics)
//   rest     POST /v1/containers/{id}/exec on a started nsgate (keep-alive client), confined
//   restPriv the same route with privileged: true
//   nsenter  `nsenter -t PID -a true`, spawned from Node with its output read
//   docker   `docker exec <container> true` against the private engine
// Target (issue 7): nsgate at most 1.5x nsenter's time and at most a third of docker exec's.
//
// Every run must exit 0 (anything else fails the bench). The container, the cgroups and the
// service it started are removed at the end, on an error, on SIGINT/SIGTERM/SIGHUP and on --timeout.
//
// usage: node bench/exec.mjs [--rounds 100] [--warmup 10] [--[no-]rest] [--build]
import { spawn } from 'node:child_process';
import { existsSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  aborted,
  args,
  build,
  cgroupMounts,
  ENGINE_HOST,
  engineClient,
  fmtMs,
  fmtRatio,
  loadavg,
  log,
  onCleanup,
  randomTag,
  removeContainers,
  ROOT,
  rounded,
  run,
  runBench,
  runContainer,
  startNsgate,
  summary,
  table,
  timed,
  useEngine,
} from './lib.mjs';

const USAGE = 'node bench/exec.mjs: `true` in a container through nsgate (kernel layer, REST) vs nsenter -t PID -a vs docker exec';
const opts = args(
  {
    rounds: { default: 100, min: 5, max: 2000, help: 'measured rounds (each: one run per method, in rotating order)' },
    warmup: { default: 10, min: 0, max: 500, help: 'unmeasured rounds first' },
    rest: { type: 'boolean', default: true, help: 'also start nsgate and time POST /v1/containers/{id}/exec (skipped when the route is not there)' },
    build: { type: 'boolean', default: false, help: 'npm run build first (dist/ must hold the kernel layer)' },
    dist: { type: 'string', default: join(ROOT, 'dist'), help: 'where the compiled kernel layer is (dist/kernel/exec, dist/kernel/cgroups)' },
    timeout: { default: 900, min: 10, max: 86400, help: 'abort (and clean up) after this many seconds in all' },
  },
  USAGE,
);

/** Spawns a command, reads its output, resolves with its exit code (what a caller of the tool pays). */
function spawnTimed(cmd, argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (c) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${argv.join(' ')}: exit ${code ?? signal}: ${stderr.trim()}`))));
  });
}

async function main() {
  const loadBefore = loadavg();
  const tag = randomTag();
  const managed = `/nsgate-bench-${tag}`;

  await build({ skip: !opts.build });
  await run('bash', ['scripts/build-native.sh']);
  const kernelModule = join(opts.dist, 'kernel/exec/index.js');
  if (!existsSync(kernelModule)) throw new Error(`${kernelModule} is missing: run npm run build first (or pass --build)`);
  const { NamespaceExecutor, hostNamespaceInodes, unsharedNamespaces } = await import(pathToFileURL(kernelModule).href);
  const { CgroupSystem } = await import(pathToFileURL(join(opts.dist, 'kernel/cgroups/system.js')).href);

  const engine = await useEngine();
  log(`engine ${engine.version}${engine.startedByUs ? ' (started by this run)' : ''}; load ${loadBefore.join(' ')}`);
  const name = `nsgate-bench-${tag}-exec`;
  onCleanup('remove the bench container', () => removeContainers([name]));
  const id = await runContainer(name, { label: { 'nsgate.bench': tag } });
  const eng = engineClient({ maxSockets: 1 });
  onCleanup('close the engine client', () => eng.close());
  const pid = (await eng.ok('GET', `/containers/${id}/json`)).body.State.Pid;

  const cgroups = CgroupSystem.fromHost({ managed: [managed] });
  const executor = new NamespaceExecutor({ cgroups, cgroupParent: `${managed}/exec`, helperPath: join(ROOT, 'dist/native/nsgate-exec') });
  onCleanup('remove the exec cgroups', async () => {
    await executor.close();
    for (const p of [`${managed}/exec`, managed]) if (cgroups.exists(p)) await cgroups.delete(p).catch((err) => log(`delete ${p}: ${err.message}`));
    for (const mnt of cgroupMounts()) {
      for (const p of [`${managed}/exec`, managed]) {
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
  const pin = executor.pin(pid);
  const own = unsharedNamespaces(pin.namespaces, hostNamespaceInodes());
  log(`container ${id.slice(0, 12)} (pid ${pid}); kernel layer enters ${own.join(' ')}; helper ${executor.helperPath}`);

  const methods = {
    kernel: async () => {
      const { ms, value } = await timed(() => executor.exec(pin, { argv: ['true'] }, { defaultNamespaces: own }));
      if (value.exitCode !== 0 || value.confinement.mode !== 'target') throw new Error(`kernel exec: ${JSON.stringify(value)}`);
      return ms;
    },
    kernelPriv: async () => {
      const { ms, value } = await timed(() => executor.exec(pin, { argv: ['true'], privileged: true }, { defaultNamespaces: own }));
      if (value.exitCode !== 0 || value.confinement.mode !== 'privileged') throw new Error(`kernel exec (privileged): ${JSON.stringify(value)}`);
      return ms;
    },
    nsenter: async () => (await timed(() => spawnTimed('nsenter', ['-t', String(pid), '-a', 'true']))).ms,
    docker: async () => (await timed(() => spawnTimed('docker', ['-H', ENGINE_HOST, 'exec', name, 'true']))).ms,
  };

  let restNote = 'not run (--no-rest)';
  if (opts.rest) {
    try {
      const ns = await startNsgate({ managed });
      const probe = await ns.http.request('POST', `/v1/containers/${id}/exec`, { argv: ['true'] });
      if (probe.status === 200 && probe.body?.exitCode === 0) {
        restNote = 'POST /v1/containers/{id}/exec';
        methods.rest = async () => {
          const res = await ns.http.ok('POST', `/v1/containers/${id}/exec`, { argv: ['true'] });
          if (res.body?.exitCode !== 0) throw new Error(`REST exec: ${JSON.stringify(res.body)}`);
          return res.ms;
        };
        methods.restPriv = async () => {
          const res = await ns.http.ok('POST', `/v1/containers/${id}/exec`, { argv: ['true'], privileged: true });
          if (res.body?.exitCode !== 0) throw new Error(`REST exec (privileged): ${JSON.stringify(res.body)}`);
          return res.ms;
        };
        // Not execs, but what the route's time is made of besides the kernel layer: nsgate's HTTP
        // floor (a public route: no auth, no audit) and the engine's inspect of the container.
        methods.floor = async () => (await ns.http.ok('GET', '/healthz')).ms;
        methods.inspect = async () => (await eng.ok('GET', `/containers/${id}/json`)).ms;
        methods.pid = async () => (await ns.http.ok('GET', `/v1/containers/${id}`)).ms;
      } else {
        restNote = `skipped: the route answered ${probe.status} ${JSON.stringify(probe.body).slice(0, 160)}`;
        await ns.stop();
      }
    } catch (err) {
      restNote = `skipped: ${err.message.split('\n')[0].slice(0, 200)}`;
    }
    log(`REST: ${restNote}`);
  }

  const order = Object.keys(methods);
  const samples = Object.fromEntries(order.map((k) => [k, []]));
  log(`${opts.warmup} warm-up rounds, then ${opts.rounds} measured rounds of ${order.join(', ')}`);
  for (let round = 0; round < opts.warmup + opts.rounds && !aborted(); round++) {
    const turn = order.map((_, i) => order[(i + round) % order.length]);
    for (const m of turn) {
      const ms = await methods[m]();
      if (round >= opts.warmup) samples[m].push(ms);
    }
  }
  const loadAfter = loadavg();

  const s = Object.fromEntries(order.map((k) => [k, summary(samples[k])]));
  const ratios = {
    kernelOverNsenter: s.kernel.median / s.nsenter.median,
    kernelOverDocker: s.kernel.median / s.docker.median,
    confinedOverPrivileged: s.kernel.median / s.kernelPriv.median,
    ...(s.rest
      ? {
          restOverNsenter: s.rest.median / s.nsenter.median,
          restOverDocker: s.rest.median / s.docker.median,
          restPrivOverNsenter: s.restPriv.median / s.nsenter.median,
          restConfinedOverPrivileged: s.rest.median / s.restPriv.median,
        }
      : {}),
  };
  const nsgate = s.rest ? 'rest' : 'kernel';
  const met = {
    nsenter: s[nsgate].median / s.nsenter.median <= 1.5,
    docker: s[nsgate].median / s.docker.median <= 1 / 3,
  };

  const labels = {
    kernel: 'nsgate kernel layer, confined (default)',
    kernelPriv: 'nsgate kernel layer, privileged: true',
    rest: 'nsgate POST /v1/containers/{id}/exec, confined (default)',
    restPriv: 'nsgate POST .../exec, privileged: true',
    nsenter: 'nsenter -t PID -a true',
    docker: 'docker exec c true',
    floor: '(nsgate GET /healthz: HTTP floor)',
    inspect: '(engine GET /containers/{id}/json)',
    pid: '(nsgate GET /v1/containers/{id})',
  };
  console.log(
    table(
      ['ms', 'median', 'p10', 'p90', 'min', 'max', 'n'],
      order.map((k) => [labels[k], fmtMs(s[k].median), fmtMs(s[k].p10), fmtMs(s[k].p90), fmtMs(s[k].min), fmtMs(s[k].max), s[k].n]),
    ),
  );
  console.log('');
  console.log(
    table(
      ['ratio (medians)', 'value', 'target'],
      [
        ['kernel / nsenter', fmtRatio(ratios.kernelOverNsenter), nsgate === 'kernel' ? '<= 1.5' : ''],
        ['kernel / docker exec', fmtRatio(ratios.kernelOverDocker), nsgate === 'kernel' ? '<= 1/3' : ''],
        ['kernel confined / privileged (cost of confinement)', fmtRatio(ratios.confinedOverPrivileged), ''],
        ...(s.rest
          ? [
              ['REST / nsenter', fmtRatio(ratios.restOverNsenter), '<= 1.5'],
              ['REST / docker exec', fmtRatio(ratios.restOverDocker), '<= 1/3'],
              ['REST privileged / nsenter', fmtRatio(ratios.restPrivOverNsenter), ''],
              ['REST confined / privileged', fmtRatio(ratios.restConfinedOverPrivileged), ''],
            ]
          : []),
      ],
    ),
  );
  console.log(`\nREST: ${restNote}. Targets (${nsgate}): 1.5x nsenter ${met.nsenter ? 'met' : 'MISSED'}, 1/3 of docker exec ${met.docker ? 'met' : 'MISSED'}. Load ${loadBefore.join(' ')} -> ${loadAfter.join(' ')}.`);
  console.log(JSON.stringify(rounded({ bench: 'exec', rounds: opts.rounds, summary: s, ratios, met, rest: restNote, load: { before: loadBefore, after: loadAfter } })));
  return true;
}

runBench('bench/exec', main, { timeoutS: opts.timeout });
