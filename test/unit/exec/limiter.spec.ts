import { afterEach, describe, expect, it, vi } from 'vitest';
import { statusOf } from '../../../src/common/errors.js';
import { NsgateError } from '../../../src/kernel/errors.js';
import { ExecLimiter } from '../../../src/kernel/exec/limiter.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ExecLimiter', () => {
  afterEach(() => vi.useRealTimers());

  it('runs at most maxConcurrent at once, the rest in arrival order', async () => {
    const limiter = new ExecLimiter({ maxConcurrent: 2, maxQueued: 10 });
    const order: string[] = [];
    const gates = new Map<string, () => void>();
    const job = (name: string) =>
      limiter.run(async () => {
        order.push(`start ${name}`);
        await new Promise<void>((resolve) => gates.set(name, resolve));
        order.push(`end ${name}`);
      });
    const all = ['a', 'b', 'c', 'd'].map(job);
    await tick();
    expect([limiter.running, limiter.waiting]).toEqual([2, 2]);
    expect(order).toEqual(['start a', 'start b']);
    gates.get('b')!();
    await tick();
    expect(order).toEqual(['start a', 'start b', 'end b', 'start c']);
    gates.get('a')!();
    await tick();
    gates.get('c')!();
    await tick();
    gates.get('d')!();
    await Promise.all(all);
    expect(order.filter((o) => o.startsWith('start'))).toEqual(['start a', 'start b', 'start c', 'start d']);
    expect([limiter.running, limiter.waiting]).toEqual([0, 0]);
  });

  it('refuses at once with EXEC_QUEUE_FULL (429) when the queue is full, and frees the slot when a job throws', async () => {
    const limiter = new ExecLimiter({ maxConcurrent: 1, maxQueued: 1 });
    let open!: () => void;
    const first = limiter.run(() => new Promise<void>((resolve) => (open = resolve)));
    const second = limiter.run(async () => {
      throw new Error('boom');
    });
    const err = await limiter.acquire().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NsgateError);
    expect((err as NsgateError).code).toBe('EXEC_QUEUE_FULL');
    expect(statusOf((err as NsgateError).code)).toBe(429);
    expect((err as NsgateError).details).toMatchObject({ maxConcurrent: 1, maxQueued: 1, running: 1, waiting: 1 });
    open();
    await first;
    await expect(second).rejects.toThrow('boom');
    expect(limiter.running).toBe(0);
    const release = await limiter.acquire();
    expect(limiter.running).toBe(1);
    release();
    release(); // a second call does nothing
    expect(limiter.running).toBe(0);
  });

  it('with maxQueued 0 there is no waiting at all', async () => {
    const limiter = new ExecLimiter({ maxConcurrent: 1, maxQueued: 0 });
    const release = await limiter.acquire();
    await expect(limiter.acquire()).rejects.toMatchObject({ code: 'EXEC_QUEUE_FULL' });
    release();
  });

  it('gives up on a waiter after maxWaitMs, and on an aborted one at once', async () => {
    vi.useFakeTimers();
    const limiter = new ExecLimiter({ maxConcurrent: 1, maxQueued: 5, maxWaitMs: 1000 });
    const release = await limiter.acquire();
    const waiting = limiter.acquire();
    const controller = new AbortController();
    const aborted = limiter.acquire(controller.signal);
    expect(limiter.waiting).toBe(2);
    controller.abort(new Error('client went away'));
    await expect(aborted).rejects.toThrow('client went away');
    expect(limiter.waiting).toBe(1);
    vi.advanceTimersByTime(1001);
    await expect(waiting).rejects.toMatchObject({ code: 'EXEC_QUEUE_FULL' });
    expect(limiter.waiting).toBe(0);
    release();
    expect(limiter.running).toBe(0);
  });

  it('refuses nonsense bounds', () => {
    expect(() => new ExecLimiter({ maxConcurrent: 0, maxQueued: 1 })).toThrow(NsgateError);
    expect(() => new ExecLimiter({ maxConcurrent: 1, maxQueued: -1 })).toThrow(NsgateError);
  });
});
