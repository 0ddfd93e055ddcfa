import { type ContainerEvent, containerEvents, type ContainerEventsOptions } from '../kernel/docker/containers.js';
import type { DockerEngine } from '../kernel/docker/engine.js';

export interface FeedLog {
  warn(message: string): void;
  log(message: string): void;
  debug(message: string): void;
}

export interface EngineFeedOptions {
  /** Stops following (shutdown); the returned promise then resolves. */
  signal: AbortSignal;
  onEvent: (event: ContainerEvent) => void;
  /** Told when the stream is lost (false) and when it delivers again (true); a consumer that keeps state reconciles then. */
  onFollowing?: (following: boolean) => void;
  /** Docker's actions to ask for (default containerEvents': start, die, oom). */
  actions?: string[];
  /** Replay from here on the first connection (default: only what happens from now on). */
  since?: Date;
  /** First wait after a failure; doubles per failure up to maxBackoffMs. Default 500. */
  initialBackoffMs?: number;
  /** Default 30000. */
  maxBackoffMs?: number;
  /** A stream that stayed up this long counts as healthy: the next failure starts the backoff afresh. Default 10000. */
  healthyAfterMs?: number;
  log?: FeedLog;
  /** The event source (tests pass a fake); default containerEvents. */
  source?: (engine: DockerEngine, options: ContainerEventsOptions) => AsyncIterable<ContainerEvent>;
}

const RECENT_KEYS = 512;

/**
 * Follows the engine's container events for as long as `signal` is not aborted. When the
 * stream cannot be opened or breaks (engine down, restarted, socket gone) it waits (capped
 * exponential backoff with jitter) and reconnects with `since` = the last event's time, so
 * nothing that happened meanwhile is lost; the engine replays from a whole second, so events
 * already delivered are recognised and skipped. Never throws: an engine that is away is
 * logged once, then retried quietly.
 */
export async function followEngineEvents(engine: DockerEngine, options: EngineFeedOptions): Promise<void> {
  const { signal, onEvent, log, onFollowing, actions } = options;
  const initial = options.initialBackoffMs ?? 500;
  const max = options.maxBackoffMs ?? 30_000;
  const healthyAfter = options.healthyAfterMs ?? 10_000;
  const source = options.source ?? containerEvents;

  let since = options.since;
  let lastNano = 0;
  const recent = new Set<string>();
  let backoff = initial;
  let failing = false;

  while (!signal.aborted) {
    const openedAt = Date.now();
    let delivered = false;
    try {
      for await (const event of source(engine, { signal, since, ...(actions ? { actions } : {}) })) {
        if (failing) {
          failing = false;
          log?.log('engine events: following again');
          notify(onFollowing, true, log);
        }
        delivered = true;
        const key = `${event.timeNano}/${event.id}/${event.action}`;
        if (event.timeNano < lastNano || recent.has(key)) continue;
        lastNano = event.timeNano;
        recent.add(key);
        if (recent.size > RECENT_KEYS) recent.delete(recent.values().next().value!);
        since = new Date(Math.floor(event.timeNano / 1e6));
        try {
          onEvent(event);
        } catch (err) {
          log?.warn(`engine events: a consumer failed: ${(err as Error).message}`);
        }
      }
      if (signal.aborted) return;
      // the source ended without an error: treat it like a break
      throw new Error('the event stream ended');
    } catch (err) {
      if (signal.aborted) return;
      if (delivered || Date.now() - openedAt >= healthyAfter) backoff = initial;
      const message = (err as Error)?.message ?? String(err);
      if (!failing) {
        failing = true;
        notify(onFollowing, false, log);
        log?.warn(`engine events: not following (${message}); retrying quietly with backoff up to ${max} ms`);
      } else {
        log?.debug(`engine events: still not following (${message}); next try in ~${backoff} ms`);
      }
      // since stays at the last event seen; before any event, from when we first tried
      since ??= new Date(openedAt);
      await sleep(jitter(backoff), signal);
      backoff = Math.min(max, backoff * 2);
    }
  }
}

function notify(onFollowing: EngineFeedOptions['onFollowing'], following: boolean, log: FeedLog | undefined): void {
  try {
    onFollowing?.(following);
  } catch (err) {
    log?.warn(`engine events: a consumer failed: ${(err as Error).message}`);
  }
}

function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
