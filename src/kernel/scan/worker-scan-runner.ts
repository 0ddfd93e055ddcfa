import { Worker } from 'node:worker_threads';
import { NsgateError } from '../errors.js';
import { deserializeError } from './scan-handler.js';
import type { PartitionResult, ScanReply, ScanRequest } from './scan-protocol.js';
import type { ScanJob, ScanRunner } from './scan-runner.js';

/** A scan thread exits after this long without work (dashboards polling every 15–30 s keep it). */
export const DEFAULT_WORKER_IDLE_MS = 60_000;

interface Pending {
  resolve: (result: PartitionResult) => void;
  reject: (err: Error) => void;
}

/**
 * One worker thread, started on demand. If it dies (crash, out of memory, terminated) its pending
 * requests fail and the next request starts a fresh one. The thread is unref'd while idle so
 * that an idle scanner never keeps the process alive, and it exits after idleMs without work:
 * each thread is a V8 isolate of its own (about 17 MiB here), given back when nobody scans.
 */
class ScanWorker {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Starts after a crash (not after an idle exit). */
  restarts = 0;
  private crashed = false;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: URL,
    private readonly idleMs: number,
  ) {}

  get threadId(): number | null {
    return this.worker?.threadId ?? null;
  }

  request(job: ScanJob, partition: ScanRequest['partition']): Promise<PartitionResult> {
    clearTimeout(this.idleTimer);
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise<PartitionResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ ...job, id, partition } satisfies ScanRequest);
    });
  }

  private start(): Worker {
    // No execArgv of the parent: flags like --input-type or loaders meant for the main script
    // are refused by (or useless in) a worker that only reads /proc.
    const worker = new Worker(this.url, { execArgv: [] });
    if (this.crashed) this.restarts++;
    this.crashed = false;
    worker.unref();
    worker.on('message', (reply: ScanReply) => this.settle(reply));
    worker.on('error', (err) => this.fail(worker, err));
    worker.on('exit', (code) => this.fail(worker, new Error(`scan worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private settle(reply: ScanReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) {
      this.worker?.unref();
      this.idleTimer = setTimeout(() => void this.retire(), this.idleMs);
      this.idleTimer.unref();
    }
    if (reply.ok) pending.resolve(reply.result);
    else pending.reject(deserializeError(reply.error));
  }

  /** Ends an idle thread; the next request starts a new one. */
  private async retire(): Promise<void> {
    const worker = this.worker;
    if (!worker || this.pending.size > 0) return;
    this.worker = null;
    await worker.terminate();
  }

  private fail(worker: Worker, cause: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    this.crashed = true;
    const err = new NsgateError('INTERNAL', `process scan worker failed: ${cause.message}`);
    for (const pending of this.pending.values()) pending.reject(err);
    this.pending.clear();
  }

  async terminate(): Promise<void> {
    clearTimeout(this.idleTimer);
    const worker = this.worker;
    if (!worker) return;
    this.fail(worker, new Error('process scanner closed'));
    await worker.terminate();
  }
}

/**
 * A fixed set of scan workers; each scan is split across all of them. Reading ns links is
 * kernel time per link, so on a 2-core host two workers halve the wall time of a scan.
 */
export class WorkerScanRunner implements ScanRunner {
  readonly mode = 'worker' as const;
  private readonly workers: ScanWorker[];
  private closed = false;

  constructor(url: URL, size: number, idleMs = DEFAULT_WORKER_IDLE_MS) {
    this.workers = Array.from({ length: Math.max(1, size) }, () => new ScanWorker(url, idleMs));
  }

  /** Thread ids (null where a worker is not running) and restart counts, for health and tests. */
  describe(): Array<{ threadId: number | null; restarts: number }> {
    return this.workers.map((w) => ({ threadId: w.threadId, restarts: w.restarts }));
  }

  async run(job: ScanJob): Promise<PartitionResult[]> {
    if (this.closed) throw new NsgateError('INTERNAL', 'process scanner is closed');
    const count = this.workers.length;
    return Promise.all(this.workers.map((worker, index) => worker.request(job, { index, count })));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}
