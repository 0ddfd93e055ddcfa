// The docker CLI against the private test engine, for e2e tests. Containers made here carry
// this run's labels (so the global setup removes what a failed test leaves) and have no
// network but their own empty one, or another test container's (`--net=container:NAME`).
import { execFile } from 'node:child_process';
import { inject } from 'vitest';
import { ENGINE_HOST, ENV_RUN_ID, RUN_LABEL, TEST_IMAGE, TEST_LABEL } from './harness.js';

export { TEST_IMAGE };

export function dockerHost(): string {
  return inject('dockerHost') ?? process.env.DOCKER_HOST ?? ENGINE_HOST;
}

export function testRunId(): string {
  const id = inject('testRunId') ?? process.env[ENV_RUN_ID];
  if (!id) throw new Error('no testRunId: is test/e2e/global-setup.ts the globalSetup of this project?');
  return id;
}

export class DockerCliError extends Error {
  constructor(
    readonly args: string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`docker ${args.join(' ')} failed (exit ${exitCode}): ${stderr.trim()}`);
  }
}

/** `docker -H <test engine> ...args`; resolves with stdout (trimmed), rejects with DockerCliError. */
export function docker(args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'docker',
      ['-H', dockerHost(), ...args],
      { encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new DockerCliError(args, typeof err.code === 'number' ? err.code : null, stderr || err.message));
        else resolve(stdout.trim());
      },
    );
  });
}

/**
 * docker's output parsed as JSON: one document (`inspect`, `version --format '{{json .}}'`),
 * or one per line (`ps --format '{{json .}}'`), returned as an array.
 */
export async function dockerJson<T = unknown>(args: string[]): Promise<T> {
  const out = await docker(args);
  try {
    return JSON.parse(out) as T;
  } catch {
    return out
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as unknown) as T;
  }
}

/** The labels every test container carries (the run id starts with the vitest process's pid). */
export function testLabels(): Record<string, string> {
  return { [TEST_LABEL]: '1', [RUN_LABEL]: testRunId() };
}

export interface TestContainer {
  id: string;
  /** The name the engine knows it by: `<name>-<run id>` (runs share the engine). */
  name: string;
  /** Its init process's pid on the host. */
  pid: number;
}

const NETWORK_OPTION = /^--net(?:work)?(?:=(.*))?$/;

/**
 * `docker run -d` with the test labels and `--network none` unless args choose
 * `--net=container:X` / `--network container:X` themselves (no other network is allowed here).
 * args: further run options, then the image and its command, e.g.
 * `runContainer('db', ['--memory', '64m', TEST_IMAGE, 'sleep', '600'])`.
 */
export async function runContainer(name: string, args: string[]): Promise<TestContainer> {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new Error(`not a container name: ${name}`);
  let network: string | undefined;
  args.forEach((a, i) => {
    const m = NETWORK_OPTION.exec(a);
    if (m) network = m[1] ?? args[i + 1];
  });
  if (network !== undefined && network !== 'none' && !network.startsWith('container:')) {
    throw new Error(`test containers use --network none or container:NAME, not ${network} (MACHINE.md)`);
  }
  const fullName = `${name}-${testRunId()}`;
  const labels = Object.entries(testLabels()).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
  const id = await docker(['run', '-d', '--name', fullName, ...labels, ...(network === undefined ? ['--network', 'none'] : []), ...args]);
  const pid = Number(await docker(['inspect', '--format', '{{.State.Pid}}', id]));
  return { id, name: fullName, pid };
}

/** `docker rm -f -v`; a container that is already gone is fine. */
export async function removeContainer(idOrName: string): Promise<void> {
  try {
    await docker(['rm', '-f', '-v', idOrName]);
  } catch (err) {
    if (!(err instanceof DockerCliError && /No such container/i.test(err.stderr))) throw err;
  }
}

/** Removes every container this run made (tests call it in afterAll; the teardown does too). */
export async function removeRunContainers(): Promise<void> {
  const ids = (await docker(['ps', '-aq', '--filter', `label=${RUN_LABEL}=${testRunId()}`])).split('\n').filter(Boolean);
  if (ids.length) await docker(['rm', '-f', '-v', ...ids]);
}
