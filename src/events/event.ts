import { NsgateError } from '../kernel/errors.js';

/** What GET /v1/events and the `events` subscription carry. Names are stable once shipped. */
export const EVENT_TYPES = [
  'container.start',
  'container.die',
  'container.oom',
  'cgroup.oom_kill',
  'limits.changed',
  // a container's kernel limits differ from the engine's (appeared or changed)
  'limits.drift',
  // a lease's before values were put back at its expiry / a later change touched its fields / DELETE kept the change
  'lease.expired',
  'lease.voided',
  'lease.kept',
  // a pressure trigger's threshold was crossed
  'pressure.threshold',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * One event. `target` speaks the audit log's language: `container:<full id>` or
 * `cgroup:<path>`, so `?target=cgroup:/nsgate` selects a subtree and `container:` every container.
 */
export interface NsgateEvent {
  /** Increases by one per event; a restarted process starts above the previous one's ids. */
  id: number;
  /** ISO 8601, when it happened (the engine's clock for container events). */
  time: string;
  type: EventType;
  target: string;
  data: Record<string, unknown>;
}

export interface EventFilter {
  /** Any of these; undefined or empty: every type. */
  types?: ReadonlySet<EventType>;
  /** A prefix of `target`. */
  target?: string;
}

export function matchesFilter(event: NsgateEvent, filter: EventFilter): boolean {
  if (filter.types && filter.types.size > 0 && !filter.types.has(event.type)) return false;
  if (filter.target !== undefined && !event.target.startsWith(filter.target)) return false;
  return true;
}

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

/** "container.oom,limits.changed" (or a list of such) as a set; an unknown name is VALIDATION_FAILED. */
export function parseEventTypes(input: string | readonly string[] | undefined | null): Set<EventType> | undefined {
  if (input === undefined || input === null) return undefined;
  const names = (typeof input === 'string' ? [input] : input).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !isEventType(n));
  if (unknown.length) {
    throw new NsgateError('VALIDATION_FAILED', `unknown event type(s): ${unknown.join(', ')}; known: ${EVENT_TYPES.join(', ')}`, {
      unknown,
      known: [...EVENT_TYPES],
    });
  }
  return names.length ? new Set(names as EventType[]) : undefined;
}

export const MAX_TARGET_FILTER = 4096;

export function parseTargetFilter(input: string | undefined | null): string | undefined {
  if (input === undefined || input === null || input === '') return undefined;
  if (input.length > MAX_TARGET_FILTER || /[\0\n\r]/.test(input)) {
    throw new NsgateError('VALIDATION_FAILED', `target must be a prefix of at most ${MAX_TARGET_FILTER} characters, without control characters`, { field: 'target' });
  }
  return input;
}

/** A Last-Event-ID as sent back by a client: digits only; anything else is VALIDATION_FAILED. */
export function parseLastEventId(input: string | string[] | undefined): number | undefined {
  const value = Array.isArray(input) ? input[0] : input;
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new NsgateError('VALIDATION_FAILED', 'Last-Event-ID must be the id of an event this service sent (digits)', { lastEventId: value.slice(0, 64) });
  }
  return Number(text);
}
