// What the e2e global setup and the test helpers agree on: the private engine's address, the
// test image, the labels on test containers, and the values the setup provides to tests.
// No runtime import of vitest here: the global setup (main process) loads this file too.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The private test engine, `unix:///run/nsgate-test/docker.sock` (also in process.env.DOCKER_HOST). */
    dockerHost: string;
    /** This run's cgroup parent, `/nsgate-e2e-<pid>-<rand>`: removed with all below it at teardown. */
    cgroupParent: string;
    /** This run's id, `<pid>-<rand>`: test containers carry it in the `nsgate.test.run` label. */
    testRunId: string;
  }
}

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export const ENGINE_SOCKET = '/run/nsgate-test/docker.sock';
export const ENGINE_HOST = `unix://${ENGINE_SOCKET}`;
export const TEST_IMAGE = 'nsgate/busybox:test';

/** Every container a test makes carries these labels (see support/docker.ts). */
export const TEST_LABEL = 'nsgate.test';
export const RUN_LABEL = 'nsgate.test.run';

/** Environment variables the setup sets, so workers (and anything they spawn) see them. */
export const ENV_CGROUP_PARENT = 'NSGATE_E2E_CGROUP_PARENT';
export const ENV_RUN_ID = 'NSGATE_E2E_RUN_ID';

const RUN_ID = /^(\d+)-([a-z0-9]+)$/;
const CGROUP_PARENT = /^\/nsgate-e2e-(\d+)-([a-z0-9]+)$/;

export function isRunId(id: string): boolean {
  return RUN_ID.test(id);
}

/** The pid of the vitest process that owns a run id. */
export function runIdOwner(id: string): number | undefined {
  const m = RUN_ID.exec(id);
  return m ? Number(m[1]) : undefined;
}

/** The pid that owns a run's cgroup parent, or undefined when the name is not a run parent. */
export function cgroupParentOwner(parent: string): number | undefined {
  const m = CGROUP_PARENT.exec(parent);
  return m ? Number(m[1]) : undefined;
}

export function cgroupParentFor(runId: string): string {
  if (!isRunId(runId)) throw new Error(`not a run id: ${runId}`);
  return `/nsgate-e2e-${runId}`;
}

/** True while pid runs (pid reuse aside: good enough for finding leftovers of dead runs). */
export function pidAlive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z /s.test(safeRead(`/proc/${pid}/stat`));
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** `docker -H host ...args`, synchronously (for the setup and for signal handlers); stdout trimmed. */
export function dockerSync(host: string, args: string[], timeoutMs = 60_000): string {
  try {
    return execFileSync('docker', ['-H', host, ...args], {
      encoding: 'utf8',
      timeout: timeoutMs,
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    }).trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`docker ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

export function engineAnswers(host = ENGINE_HOST): boolean {
  try {
    dockerSync(host, ['version', '--format', '{{.Server.Version}}'], 5_000);
    return true;
  } catch {
    return false;
  }
}
