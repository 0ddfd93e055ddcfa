import { Subject } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { boundedIterator } from '../../../src/events/bounded-iterator.js';

describe('boundedIterator', () => {
  it('hands out what the source emits, in order, buffered and awaited alike', async () => {
    const source = new Subject<number>();
    const it = boundedIterator(source, { maxBuffered: 10, overflow: () => -1 });
    source.next(1);
    expect(await it.next()).toEqual({ value: 1, done: false });
    const pending = it.next();
    source.next(2);
    source.next(3);
    source.complete();
    expect(await pending).toEqual({ value: 2, done: false });
    expect(await it.next()).toEqual({ value: 3, done: false });
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('ends a consumer that fell behind with the overflow item, and lets go of the source', async () => {
    const source = new Subject<number>();
    const onEnd = vi.fn();
    const it = boundedIterator(source, { maxBuffered: 2, overflow: () => -1, onEnd });
    for (let i = 1; i <= 5; i++) source.next(i);
    expect(source.observed).toBe(false);
    expect(onEnd).toHaveBeenCalledTimes(1);
    const got: number[] = [];
    for await (const v of it) got.push(v);
    expect(got).toEqual([1, 2, -1]);
  });

  it('unsubscribes on return() and ends once, however it ends', async () => {
    const source = new Subject<number>();
    const onEnd = vi.fn();
    const it = boundedIterator(source, { maxBuffered: 2, overflow: () => -1, onEnd });
    const waiting = it.next();
    await it.return!();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(source.observed).toBe(false);
    source.complete();
    await it.return!();
    expect(onEnd).toHaveBeenCalledTimes(1);
  });

  it('passes a source error to the consumer after what was buffered', async () => {
    const source = new Subject<number>();
    const it = boundedIterator(source, { maxBuffered: 5, overflow: () => -1 });
    source.next(1);
    source.error(new Error('boom'));
    expect(await it.next()).toEqual({ value: 1, done: false });
    await expect(it.next()).rejects.toThrow('boom');
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });
});
