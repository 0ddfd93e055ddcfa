import { describe, expect, it, vi } from 'vitest';
import { followEngineEvents } from '../../../src/events/engine-feed.js';
import type { ContainerEvent, ContainerEventsOptions } from '../../../src/kernel/docker/containers.js';
import type { DockerEngine } from '../../../src/kernel/docker/engine.js';
import { NsgateError } from '../../../src/kernel/errors.js';

const engine = {} as DockerEngine;
const T0 = 1_767_225_600_000; // ms

function event(action: string, id: string, ms: number, extraNs = 0): ContainerEvent {
  const timeNano = ms * 1e6 + extraNs;
  return { action, id, attributes: {}, time: new Date(ms).toISOString(), timeNano };
}

/** Resolves when the signal aborts (a stream that stays open). */
function untilAborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => (signal?.aborted ? resolve() : signal?.addEventListener('abort', () => resolve(), { once: true })));
}

const quietLog = () => ({ warn: vi.fn(), log: vi.fn(), debug: vi.fn() });

describe('followEngineEvents', () => {
  it('asks for the actions given, and tells a listener when the stream is lost and when it delivers again', async () => {
    const stop = new AbortController();
    const following: boolean[] = [];
    const actions: (string[] | undefined)[] = [];
    let call = 0;
    async function* source(_e: DockerEngine, o: ContainerEventsOptions): AsyncGenerator<ContainerEvent> {
      actions.push(o.actions);
      call++;
      if (call === 1) throw new NsgateError('ENGINE_UNAVAILABLE', 'down');
      yield event('rename', 'a', T0 + 100);
      await untilAborted(o.signal);
    }
    await followEngineEvents(engine, {
      signal: stop.signal,
      initialBackoffMs: 1,
      actions: ['create', 'rename'],
      source,
      log: quietLog(),
      onFollowing: (f) => following.push(f),
      onEvent: () => stop.abort(),
    });
    expect(actions).toEqual([['create', 'rename'], ['create', 'rename']]);
    expect(following).toEqual([false, true]);
  });

  it('reconnects after a break with since = the last event, and skips what the engine replays twice', async () => {
    const stop = new AbortController();
    const seen: string[] = [];
    const sinces: (Date | undefined)[] = [];
    let call = 0;
    async function* source(_e: DockerEngine, o: ContainerEventsOptions): AsyncGenerator<ContainerEvent> {
      sinces.push(o.since);
      call++;
      if (call === 1) {
        yield event('start', 'a', T0 + 100);
        yield event('die', 'a', T0 + 900, 5);
        throw new NsgateError('ENGINE_UNAVAILABLE', 'the Docker Engine closed its event stream');
      }
      // the engine replays from the whole second: both old events come again
      yield event('start', 'a', T0 + 100);
      yield event('die', 'a', T0 + 900, 5);
      yield event('start', 'b', T0 + 900, 5);
      yield event('oom', 'b', T0 + 1500);
      await untilAborted(o.signal);
    }
    const log = quietLog();
    const done = followEngineEvents(engine, {
      signal: stop.signal,
      since: new Date(T0),
      initialBackoffMs: 1,
      source,
      log,
      onEvent: (e) => {
        seen.push(`${e.action}:${e.id}`);
        if (seen.length === 4) stop.abort();
      },
    });
    await done;
    expect(seen).toEqual(['start:a', 'die:a', 'start:b', 'oom:b']);
    expect(sinces).toEqual([new Date(T0), new Date(T0 + 900)]);
    expect(log.warn).toHaveBeenCalledTimes(1);
    expect(log.log).toHaveBeenCalledWith('engine events: following again');
  });

  it('waits with a capped, growing backoff while the engine is away, logging once, and stops on abort', async () => {
    vi.useFakeTimers();
    try {
      const stop = new AbortController();
      const attempts: number[] = [];
      const source = (_e: DockerEngine, _o: ContainerEventsOptions): AsyncIterable<ContainerEvent> => ({
        [Symbol.asyncIterator]: () => ({
          next: async () => {
            attempts.push(Date.now());
            throw new NsgateError('ENGINE_UNAVAILABLE', 'the Docker Engine at unix:///x does not answer');
          },
        }),
      });
      const log = quietLog();
      const done = followEngineEvents(engine, { signal: stop.signal, initialBackoffMs: 100, maxBackoffMs: 1000, source, log, onEvent: () => undefined });
      await vi.advanceTimersByTimeAsync(20_000);
      const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
      // 100, 200, 400, 800, then 1000 each (±20 % jitter)
      expect(gaps.slice(0, 4).map((g, i) => g / (100 * 2 ** i))).toEqual(gaps.slice(0, 4).map(() => expect.closeTo(1, 0.21)));
      expect(Math.max(...gaps)).toBeLessThanOrEqual(1200);
      expect(gaps.slice(5).every((g) => g >= 800)).toBe(true);
      expect(log.warn).toHaveBeenCalledTimes(1);
      expect(log.debug.mock.calls.length).toBe(attempts.length - 1);
      stop.abort();
      await done;
      const count = attempts.length;
      await vi.advanceTimersByTimeAsync(10_000);
      expect(attempts.length).toBe(count);
    } finally {
      vi.useRealTimers();
    }
  });

  it('survives a consumer that throws', async () => {
    const stop = new AbortController();
    async function* source(_e: DockerEngine, o: ContainerEventsOptions): AsyncGenerator<ContainerEvent> {
      yield event('start', 'a', T0);
      yield event('start', 'b', T0 + 1);
      await untilAborted(o.signal);
    }
    const seen: string[] = [];
    const log = quietLog();
    await followEngineEvents(engine, {
      signal: stop.signal,
      source,
      log,
      onEvent: (e) => {
        seen.push(e.id);
        if (e.id === 'a') throw new Error('bad consumer');
        stop.abort();
      },
    });
    expect(seen).toEqual(['a', 'b']);
    expect(log.warn).toHaveBeenCalledWith('engine events: a consumer failed: bad consumer');
  });
});
