import { NsgateError } from '../errors.js';

export interface ExecLimiterOptions {
  /** Commands running at once. */
  maxConcurrent: number;
  /** Requests waiting for a slot; one more is refused with EXEC_QUEUE_FULL (429). */
  maxQueued: number;
  /** How long a request may wait for a slot before it is refused the same way; default: as long as it takes. */
  maxWaitMs?: number;
}

export const DEFAULT_EXEC_LIMITER: Readonly<ExecLimiterOptions> = Object.freeze({ maxConcurrent: 8, maxQueued: 32, maxWaitMs: 30_000 });

interface Waiter {
  grant: (release: () => void) => void;
  refuse: (err: unknown) => void;
  timer?: NodeJS.Timeout;
  onAbort?: () => void;
  signal?: AbortSignal;
}

/**
 * A counting semaphore with a bounded FIFO queue: at most maxConcurrent holders, at most
 * maxQueued waiters, the rest refused at once (EXEC_QUEUE_FULL) rather than piling up.
 */
export class ExecLimiter {
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  readonly maxWaitMs: number | undefined;
  private active = 0;
  private readonly queue: Waiter[] = [];

  constructor(options: ExecLimiterOptions = DEFAULT_EXEC_LIMITER) {
    for (const key of ['maxConcurrent', 'maxQueued'] as const) {
      const v = options[key];
      if (!Number.isSafeInteger(v) || v < (key === 'maxQueued' ? 0 : 1)) throw new NsgateError('INTERNAL', `ExecLimiter ${key} must be an integer`, { [key]: v });
    }
    this.maxConcurrent = options.maxConcurrent;
    this.maxQueued = options.maxQueued;
    this.maxWaitMs = options.maxWaitMs;
  }

  get running(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** A slot: resolves with its release function (idempotent), or rejects EXEC_QUEUE_FULL. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.active < this.maxConcurrent && this.queue.length === 0) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (this.queue.length >= this.maxQueued) return Promise.reject(this.full('the exec queue is full'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { grant: resolve, refuse: reject, signal };
      if (this.maxWaitMs !== undefined) {
        waiter.timer = setTimeout(() => this.drop(waiter, this.full(`no exec slot came free within ${this.maxWaitMs} ms`)), this.maxWaitMs);
        waiter.timer.unref?.();
      }
      if (signal) {
        waiter.onAbort = () => this.drop(waiter, signal.reason);
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
    });
  }

  /** Runs fn in a slot. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private full(message: string): NsgateError {
    return new NsgateError('EXEC_QUEUE_FULL', `${message}: ${this.active} running, ${this.queue.length} waiting; try again later`, {
      maxConcurrent: this.maxConcurrent,
      maxQueued: this.maxQueued,
      running: this.active,
      waiting: this.queue.length,
    });
  }

  private drop(waiter: Waiter, err: unknown): void {
    const i = this.queue.indexOf(waiter);
    if (i < 0) return;
    this.queue.splice(i, 1);
    this.settle(waiter);
    waiter.refuse(err);
  }

  private settle(waiter: Waiter): void {
    if (waiter.timer) clearTimeout(waiter.timer);
    if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      if (next) {
        // The slot passes straight to the next waiter: the count stays.
        this.settle(next);
        next.grant(this.releaser());
      } else {
        this.active--;
      }
    };
  }
}
