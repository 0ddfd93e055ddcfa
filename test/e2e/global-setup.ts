// The e2e project's global setup: the private Docker Engine (started here when it is not
// already answering), the busybox test image, and a per-run cgroup parent. Teardown removes
// this run's containers and cgroups and stops the engine when a test harness started it and no
// other run still uses it (runs of other people share it: see docker/*.sh, leases).
// Cleanup is synchronous so it also runs from SIGINT/SIGTERM, where vitest exits right after.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { cgroupHierarchies, removeCgroupTree, runParentsOnHost } from './support/cgroupfs.js';
import {
  cgroupParentFor,
  cgroupParentOwner,
  dockerSync,
  ENGINE_HOST,
  ENV_CGROUP_PARENT,
  ENV_RUN_ID,
  pidAlive,
  repoRoot,
  RUN_LABEL,
  runIdOwner,
  TEST_LABEL,
} from './support/harness.js';

const log = (msg: string) => console.log(`[e2e setup] ${msg}`);
const warn = (msg: string) => console.warn(`[e2e setup] warning: ${msg}`);

/** Runs one of docker/*.sh; its progress lines (stderr) go to the terminal; returns stdout. */
function script(name: string, args: string[], timeoutMs: number): string {
  const r = spawnSync('bash', [join(repoRoot, 'docker', name), ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.error) throw new Error(`docker/${name}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`docker/${name} ${args.join(' ')} failed (exit ${r.status ?? r.signal}): ${r.stdout.trim()}`);
  return r.stdout.trim();
}

function containerIds(filter: string): string[] {
  return dockerSync(ENGINE_HOST, ['ps', '-aq', '--filter', filter]).split('\n').filter(Boolean);
}

/** What earlier runs that died without a teardown (SIGKILL, crash) left behind. */
function sweepDeadRuns(): void {
  const lines = dockerSync(ENGINE_HOST, ['ps', '-a', '--filter', `label=${TEST_LABEL}=1`, '--format', `{{.ID}} {{.Label "${RUN_LABEL}"}}`]);
  const stale = lines
    .split('\n')
    .map((l) => l.split(' '))
    .filter(([id, run]) => id && run && !pidAlive(runIdOwner(run) ?? 0))
    .map(([id]) => id!);
  if (stale.length) {
    log(`removing ${stale.length} container(s) left by runs that are gone`);
    dockerSync(ENGINE_HOST, ['rm', '-f', '-v', ...stale]);
  }
  const hierarchies = cgroupHierarchies();
  for (const parent of runParentsOnHost(hierarchies)) {
    const owner = cgroupParentOwner(parent);
    if (owner === undefined || pidAlive(owner)) continue;
    const failed = removeCgroupTree(parent, { hierarchies, waitMs: 500 });
    if (failed.length) warn(`cgroups left by a run that is gone could not be removed:\n  ${failed.join('\n  ')}`);
    else log(`removed ${parent}, left by a run that is gone`);
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const cgroupParent = cgroupParentFor(runId);

  // The lease (this pid) is taken under the engine's lock, so a teardown elsewhere cannot stop
  // the engine between "it answers" and our first use of it.
  const engine = script('start-engine.sh', ['--install', '--lease', String(process.pid), '--mark-harness'], 300_000);
  const startedEngine = engine.endsWith('started');
  log(startedEngine ? `started the private engine on ${ENGINE_HOST}` : `using the running engine on ${ENGINE_HOST}`);

  let cleaned = false;
  const cleanup = (why: string): void => {
    if (cleaned) return;
    cleaned = true;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
    const problems: string[] = [];
    try {
      const ids = containerIds(`label=${RUN_LABEL}=${runId}`);
      if (ids.length) {
        log(`removing ${ids.length} test container(s) of this run (${why})`);
        dockerSync(ENGINE_HOST, ['rm', '-f', '-v', ...ids], 120_000);
      }
    } catch (err) {
      problems.push(`containers: ${(err as Error).message}`);
    }
    try {
      problems.push(...removeCgroupTree(cgroupParent));
    } catch (err) {
      problems.push(`cgroups: ${(err as Error).message}`);
    }
    try {
      script('stop-engine.sh', ['--release', String(process.pid)], 120_000);
    } catch (err) {
      problems.push(`engine: ${(err as Error).message}`);
    }
    if (problems.length) warn(`cleanup (${why}) left:\n  ${problems.join('\n  ')}`);
  };
  const onSignal = (signal: NodeJS.Signals) => cleanup(signal);
  const onExit = () => cleanup('exit without teardown');
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', onExit);

  try {
    sweepDeadRuns();
    script('build-test-image.sh', ['--install'], 300_000);
  } catch (err) {
    cleanup('setup failed');
    throw err;
  }

  // Workers are forked after the global setup with a copy of this environment.
  process.env.DOCKER_HOST = ENGINE_HOST;
  process.env[ENV_CGROUP_PARENT] = cgroupParent;
  process.env[ENV_RUN_ID] = runId;
  project.provide('dockerHost', ENGINE_HOST);
  project.provide('cgroupParent', cgroupParent);
  project.provide('testRunId', runId);

  return async () => cleanup('teardown');
}
