import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MAIN = new URL('../../../dist/main.js', import.meta.url).pathname;

export interface RunningService {
  child: ChildProcess;
  url: string;
  dataDir: string;
  output: () => string;
  /** SIGTERM (or the given signal) and wait for exit */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * The built service (dist/main.js) as a child process on a free loopback port. `prefix` runs it
 * under another command (e.g. `unshare --pid --fork ...`), which then gets `node dist/main.js` as its last arguments.
 */
export async function startService(env: Record<string, string> = {}, dataDir?: string, prefix: string[] = []): Promise<RunningService> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'nsgate-svc-')));
  const port = await freePort();
  const argv = [...prefix, process.execPath, MAIN];
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, NSGATE_DATA_DIR: dir, NSGATE_LISTEN: `127.0.0.1:${port}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}:\n${out}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`service did not answer /healthz within 30 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    url,
    dataDir: dir,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
