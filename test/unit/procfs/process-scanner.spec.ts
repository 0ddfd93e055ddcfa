import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NsgateError } from '../../../src/kernel/errors.js';
import { readNamespaceInventory } from '../../../src/kernel/namespaces.js';
import { ProcessScanner } from '../../../src/kernel/scan/index.js';
import { FIXTURE_PASSWD, FIXTURE_PROC } from './fixture.js';

const fixtureOptions = { procRoot: FIXTURE_PROC, passwdPath: FIXTURE_PASSWD };

/** What a scanner returns, minus the timing, for comparing two scanners. */
async function contents(scanner: ProcessScanner) {
  const { namespaces, memberships } = await scanner.namespaces();
  const { processes } = await scanner.processes();
  return { namespaces, pids: [...memberships.pids].sort((a, b) => a - b), processes };
}

describe('ProcessScanner from the .ts sources (Vitest)', () => {
  it('runs inline, because no compiled worker exists beside the sources', async () => {
    const scanner = new ProcessScanner(fixtureOptions);
    try {
      expect(scanner.mode).toBe('inline');
      const snapshot = await scanner.namespaces();
      expect(snapshot.namespaces).toEqual(readNamespaceInventory(fixtureOptions));
      expect(snapshot.finishedAt).toBeGreaterThanOrEqual(snapshot.startedAt);
    } finally {
      await scanner.close();
    }
  });

  it('lists processes, skipping the one that vanished mid-read', async () => {
    const scanner = new ProcessScanner(fixtureOptions);
    try {
      const { processes, bootTimeMs } = await scanner.processes();
      expect(bootTimeMs).toBe(1_700_000_000_000);
      expect(processes.map((p) => p.pid)).toEqual([2, 100, 101, 300]);
      const [kthread, shell, , zombie] = processes;
      expect(kthread).toMatchObject({ kernelThread: true, cmdline: [], comm: 'kthreadd', user: 'root' });
      expect(shell).toMatchObject({
        ppid: 90,
        comm: 'my sh) (x',
        cmdline: ['sh', '-c', 'echo hi; sleep 5'],
        uid: 1001,
        user: 'alice',
        nspid: [100, 1],
        threads: 2,
        startTime: '2023-11-14T22:55:00.000Z',
      });
      expect(shell!.namespaces.net).toBe('4026532203');
      expect(shell!.cgroups[0]).toEqual({ hierarchyId: 9, controllers: ['name=systemd'], path: '/docker/abc' });
      expect(zombie).toMatchObject({ state: 'Z', cmdline: [], namespaces: { net: null } });
    } finally {
      await scanner.close();
    }
  });

  it('rejects after close', async () => {
    const scanner = new ProcessScanner(fixtureOptions);
    await scanner.close();
    await expect(scanner.namespaces()).rejects.toBeInstanceOf(NsgateError);
  });
});

describe('ProcessScanner compiled, with its worker threads', () => {
  let outDir: string;
  let Compiled: typeof ProcessScanner;
  let compiledModule: string;

  beforeAll(() => {
    // Build the scan module the way `npm run build` does, into a scratch folder of its own.
    outDir = mkdtempSync(join(tmpdir(), 'nsgate-scan-'));
    const tsc = createRequire(import.meta.url).resolve('typescript/lib/tsc.js');
    const src = fileURLToPath(new URL('../../../src', import.meta.url));
    execFileSync(process.execPath, [
      tsc,
      '--ignoreConfig',
      '--outDir', outDir,
      '--rootDir', src,
      '--module', 'nodenext',
      '--moduleResolution', 'nodenext',
      '--target', 'es2023',
      '--types', 'node',
      '--skipLibCheck',
      join(src, 'kernel/scan/index.ts'),
      join(src, 'kernel/scan/scan.worker.ts'),
    ]);
    writeFileSync(join(outDir, 'package.json'), '{"type":"module"}');
    compiledModule = join(outDir, 'kernel/scan/index.js');
  }, 120_000);

  beforeAll(async () => {
    ({ ProcessScanner: Compiled } = (await import(pathToFileURL(compiledModule).href)) as {
      ProcessScanner: typeof ProcessScanner;
    });
  });

  afterAll(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('chooses worker threads and agrees with the inline scan on the fixture tree', async () => {
    const workers = new Compiled({ ...fixtureOptions, workers: 2 });
    const inline = new ProcessScanner(fixtureOptions);
    try {
      expect(workers.mode).toBe('worker');
      expect(await contents(workers)).toEqual(await contents(inline));
    } finally {
      await Promise.all([workers.close(), inline.close()]);
    }
    const threads = (workers['runner'] as unknown as { describe(): Array<{ threadId: number | null }> }).describe();
    expect(threads.map((t) => t.threadId)).toEqual([null, null]);
  });

  it('keeps the event loop free while it scans the real /proc', async () => {
    const scanner = new Compiled({ workers: 1 });
    try {
      await scanner.namespaces(); // start the worker
      let turns = 0;
      let spinning = true;
      const spin = () => {
        turns++;
        if (spinning) setImmediate(spin);
      };
      setImmediate(spin);
      const snapshot = await scanner.processes();
      spinning = false;
      expect(snapshot.processes.some((p) => p.pid === process.pid)).toBe(true);
      expect(turns).toBeGreaterThan(3);
    } finally {
      await scanner.close();
    }
  });

  it('ends a worker thread after it idled, and starts one again for the next scan', async () => {
    const scanner = new Compiled({ ...fixtureOptions, workers: 1, workerIdleMs: 200 });
    const threads = () => (scanner['runner'] as unknown as { describe(): Array<{ threadId: number | null; restarts: number }> }).describe();
    try {
      await scanner.namespaces();
      expect(threads()[0]!.threadId).not.toBeNull();
      for (let i = 0; i < 100 && threads()[0]!.threadId !== null; i++) await new Promise((r) => setTimeout(r, 50));
      expect(threads()[0]!.threadId).toBeNull();
      expect((await scanner.namespaces()).namespaces).toHaveLength(13);
      expect(threads()[0]).toMatchObject({ restarts: 0 }); // an idle exit is not a crash
      expect(threads()[0]!.threadId).not.toBeNull();
    } finally {
      await scanner.close();
    }
  });

  it('restarts a worker that died, failing only the requests it had', async () => {
    const scanner = new Compiled({ ...fixtureOptions, workers: 1 });
    try {
      const inFlight = scanner.namespaces();
      const runner = scanner['runner'] as unknown as { workers: Array<{ worker: { terminate(): Promise<number> } | null }> };
      // The scan is posted on the next turn; kill the fresh worker before it can answer.
      await new Promise((resolve) => setImmediate(resolve));
      await runner.workers[0]!.worker!.terminate();
      await expect(inFlight).rejects.toMatchObject({ code: 'INTERNAL' });
      const after = await scanner.namespaces();
      expect(after.namespaces).toHaveLength(13);
      const described = (scanner['runner'] as unknown as { describe(): Array<{ restarts: number }> }).describe();
      expect(described[0]!.restarts).toBe(1);
    } finally {
      await scanner.close();
    }
  });

  it('leaves nothing behind: a process that scans and closes exits by itself', () => {
    const script = `
      const { ProcessScanner } = await import(${JSON.stringify(pathToFileURL(compiledModule).href)});
      const scanner = new ProcessScanner({ workers: 2 });
      await Promise.all([scanner.namespaces(), scanner.processes()]);
      await scanner.close();
      console.log('closed');`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
    expect(out.toString().trim()).toBe('closed');
  });
});
