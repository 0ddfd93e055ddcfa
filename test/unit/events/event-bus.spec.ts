import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { parseEventTypes, parseLastEventId, parseTargetFilter } from '../../../src/events/event.js';
import { EventBus } from '../../../src/events/event-bus.js';
import { NsgateError } from '../../../src/kernel/errors.js';

describe('EventBus', () => {
  it('numbers events one by one from its first id and keeps only the last `capacity` for replay', () => {
    const bus = new EventBus(3, 100);
    for (let i = 0; i < 5; i++) bus.publish('container.start', `container:${i}`, {});
    expect(bus.buffered().map((e) => e.id)).toEqual([102, 103, 104]);
    expect(bus.lastId).toBe(104);
    expect(bus.replay(102)).toEqual({ events: bus.buffered().slice(1), missed: false });
    expect(bus.replay(101).missed).toBe(false);
    // 101 is gone from the buffer: a client that last saw 100 missed it
    expect(bus.replay(100)).toMatchObject({ missed: true });
    expect(bus.replay(100).events.map((e) => e.id)).toEqual([102, 103, 104]);
    // an id from an earlier process (below firstId): everything buffered, and the gap is said
    expect(bus.replay(5)).toMatchObject({ missed: true });
    expect(bus.replay(104)).toEqual({ events: [], missed: false });
  });

  it('starts ids at the start time in µs, so a restart hands out higher ids', () => {
    const before = Date.now() * 1000;
    const bus = new EventBus();
    expect(bus.publish('container.die', 'container:x', {})!.id).toBeGreaterThanOrEqual(before);
  });

  it('streams the replay then live events, filtered, without gap or duplicate', async () => {
    const bus = new EventBus(10, 1);
    bus.publish('container.start', 'container:a', {});
    bus.publish('limits.changed', 'cgroup:/nsgate/x', {});
    bus.publish('container.start', 'container:b', {});
    const got = firstValueFrom(bus.stream({ types: new Set(['container.start']) }, 1).pipe(take(2), toArray()));
    bus.publish('limits.changed', 'cgroup:/nsgate/y', {});
    bus.publish('container.start', 'container:c', {});
    expect((await got).map((e) => e.target)).toEqual(['container:b', 'container:c']);
    const byTarget = firstValueFrom(bus.stream({ target: 'cgroup:/nsgate/' }, 0).pipe(take(2), toArray()));
    expect((await byTarget).map((e) => e.target)).toEqual(['cgroup:/nsgate/x', 'cgroup:/nsgate/y']);
  });

  it('completes every stream on close and publishes nothing after', async () => {
    const bus = new EventBus(10, 1);
    const all = firstValueFrom(bus.stream({}).pipe(toArray()));
    bus.publish('container.oom', 'container:a', {});
    bus.close();
    expect(bus.publish('container.oom', 'container:b', {})).toBeUndefined();
    expect((await all).map((e) => e.target)).toEqual(['container:a']);
    expect(await firstValueFrom(bus.stream({}).pipe(toArray()))).toEqual([]);
  });
});

describe('event query parsing', () => {
  it('reads comma lists of known types, and refuses unknown ones', () => {
    expect([...parseEventTypes('container.oom, limits.changed')!]).toEqual(['container.oom', 'limits.changed']);
    expect([...parseEventTypes(['cgroup.oom_kill', 'container.die,container.start'])!]).toEqual(['cgroup.oom_kill', 'container.die', 'container.start']);
    expect(parseEventTypes(undefined)).toBeUndefined();
    expect(parseEventTypes('')).toBeUndefined();
    expect(() => parseEventTypes('container.oom,nope')).toThrow(NsgateError);
  });

  it('takes Last-Event-ID as digits only', () => {
    expect(parseLastEventId('1767225600000001')).toBe(1767225600000001);
    expect(parseLastEventId(undefined)).toBeUndefined();
    expect(parseLastEventId(' ')).toBeUndefined();
    for (const bad of ['abc', '-1', '1e3', '99999999999999999']) expect(() => parseLastEventId(bad), bad).toThrow(NsgateError);
  });

  it('bounds the target prefix', () => {
    expect(parseTargetFilter('cgroup:/nsgate')).toBe('cgroup:/nsgate');
    expect(parseTargetFilter('')).toBeUndefined();
    expect(() => parseTargetFilter('x'.repeat(5000))).toThrow(NsgateError);
    expect(() => parseTargetFilter('a\nb')).toThrow(NsgateError);
  });
});
