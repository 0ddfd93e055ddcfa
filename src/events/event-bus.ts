import { concat, defer, EMPTY, filter, from, type Observable, Subject } from 'rxjs';
import { type EventFilter, type EventType, matchesFilter, type NsgateEvent } from './event.js';

export const DEFAULT_REPLAY_CAPACITY = 1000;

export interface Replay {
  events: NsgateEvent[];
  /** True when events after the given id have already left the buffer (or were another process's). */
  missed: boolean;
}

/**
 * The one in-process bus: every event gets the next id, is kept in a ring of the last
 * `capacity` events for replay (Last-Event-ID), and goes to every live stream. Ids start at
 * the start time in µs, so a restarted process hands out ids above its predecessor's and a
 * client's old Last-Event-ID reads as "before everything buffered" rather than as a new id.
 */
export class EventBus {
  private readonly ring: NsgateEvent[] = [];
  /** Index in `ring` of the oldest event once the ring is full. */
  private head = 0;
  private nextId: number;
  private readonly live = new Subject<NsgateEvent>();
  private closed = false;

  constructor(
    readonly capacity = DEFAULT_REPLAY_CAPACITY,
    readonly firstId = Date.now() * 1000,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.nextId = firstId;
  }

  get lastId(): number | undefined {
    return this.nextId > this.firstId ? this.nextId - 1 : undefined;
  }

  publish(type: EventType, target: string, data: Record<string, unknown>, time: Date | string = new Date()): NsgateEvent | undefined {
    if (this.closed) return undefined;
    const event: NsgateEvent = { id: this.nextId++, time: typeof time === 'string' ? time : time.toISOString(), type, target, data };
    if (this.ring.length < this.capacity) this.ring.push(event);
    else {
      this.ring[this.head] = event;
      this.head = (this.head + 1) % this.capacity;
    }
    this.live.next(event);
    return event;
  }

  /** Buffered events, oldest first. */
  buffered(): NsgateEvent[] {
    return this.ring.length < this.capacity ? [...this.ring] : [...this.ring.slice(this.head), ...this.ring.slice(0, this.head)];
  }

  /** The buffered events after `afterId`, oldest first, and whether some after it are gone. */
  replay(afterId: number): Replay {
    const all = this.buffered();
    const oldest = all[0]?.id ?? this.nextId;
    return { events: all.filter((e) => e.id > afterId), missed: afterId + 1 < oldest };
  }

  /**
   * Replay (when `afterId` is given) followed by live events, both filtered. The replay is
   * taken and the live subscription made in the same synchronous step, so nothing published
   * in between can be lost or sent twice.
   */
  stream(eventFilter: EventFilter, afterId?: number): Observable<NsgateEvent> {
    return defer(() => {
      if (this.closed) return EMPTY;
      const replayed = afterId === undefined ? [] : this.replay(afterId).events.filter((e) => matchesFilter(e, eventFilter));
      return concat(from(replayed), this.live.pipe(filter((e) => matchesFilter(e, eventFilter))));
    });
  }

  /** Ends every stream (shutdown). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.live.complete();
  }
}
