import { Args, Context, Int, Resolver, Subscription } from '@nestjs/graphql';
import { GraphQLError } from 'graphql';
import { Observable } from 'rxjs';
import { Allow } from '../auth/auth.decorator.js';
import { statusOf, toNsgateError } from '../common/errors.js';
import type { NsgateRequest } from '../common/request-context.js';
import { ContainerStatsModel } from '../containers/container.models.js';
import { ContainersService } from '../containers/containers.service.js';
import { HistoryService } from '../history/history.service.js';
import { NsgateError } from '../kernel/errors.js';
import { boundedIterator } from './bounded-iterator.js';
import { type NsgateEvent, parseEventTypes, parseTargetFilter } from './event.js';
import { EventModel } from './event.models.js';
import { EventsService } from './events.service.js';

export const DEFAULT_STATS_INTERVAL_MS = 1000;
export const MIN_STATS_INTERVAL_MS = 500;
export const MAX_STATS_INTERVAL_MS = 60_000;
/** Stats ticks held for a client that is not reading; one more ends its subscription. */
const MAX_BUFFERED_TICKS = 10;

/**
 * The last item of a subscription that has to end early (fell behind, container stopped):
 * resolving it throws, so the client gets the error with its code in one `next` message, and
 * then `complete`. (An error thrown by the iterator itself would reach the client without
 * our code.)
 */
export class StreamFailure {
  constructor(readonly error: NsgateError) {}
}

function unwrap<T>(payload: T | StreamFailure | undefined): T {
  // a subscription sent as a plain POST is executed as a query, with no event to resolve
  if (payload === undefined) {
    throw new GraphQLError('subscriptions are served over graphql-ws (WebSocket) at /graphql, not over HTTP POST', {
      extensions: { code: 'VALIDATION_FAILED', status: statusOf('VALIDATION_FAILED') },
    });
  }
  if (payload instanceof StreamFailure) {
    const err = payload.error;
    throw new GraphQLError(err.message, { extensions: { code: err.code, status: statusOf(err.code), ...(err.details ? { details: err.details } : {}) } });
  }
  return payload;
}

/**
 * Subscriptions over graphql-ws. The connection was authenticated in onConnect; each
 * subscription is authorized by the global guard like any field, and takes one of the
 * connection's slots (RATE_LIMITED past the limit) until it ends.
 */
@Resolver()
export class EventsResolver {
  constructor(
    private readonly service: EventsService,
    private readonly containers: ContainersService,
    private readonly history: HistoryService,
  ) {}

  @Subscription(() => EventModel, {
    nullable: true,
    description: 'Events as they happen (see GET /v1/events), optionally only some types and targets under a prefix',
    resolve: (payload: NsgateEvent | StreamFailure | undefined) => unwrap(payload),
  })
  @Allow('viewer')
  events(
    @Context('req') req: NsgateRequest,
    @Args('types', { type: () => [String], nullable: true, description: 'container.start, container.die, container.oom, cgroup.oom_kill, limits.changed, pressure.threshold' }) types?: string[],
    @Args('target', { type: () => String, nullable: true, description: 'target prefix: container:<id>, cgroup:<path>' }) target?: string,
  ): AsyncIterableIterator<NsgateEvent | StreamFailure> {
    const filter = { types: parseEventTypes(types), target: parseTargetFilter(target) };
    const max = this.service.settings.maxBufferedPerSubscription;
    const release = this.service.acquire(this.holder(req));
    return boundedIterator<NsgateEvent | StreamFailure>(this.service.stream(filter), {
      maxBuffered: max,
      onEnd: release,
      overflow: () => new StreamFailure(new NsgateError('RATE_LIMITED', `this subscription fell ${max} events behind and was ended; subscribe again (GET /v1/events can replay with Last-Event-ID)`)),
    });
  }

  @Subscription(() => ContainerStatsModel, {
    nullable: true,
    description: 'A container\'s stats (as GET /v1/containers/{id}/stats) every intervalMs; ends with an error when the container stops',
    resolve: (payload: ContainerStatsModel | StreamFailure | undefined) => unwrap(payload),
  })
  @Allow('viewer')
  async containerStats(
    @Context('req') req: NsgateRequest,
    @Args('id', { description: 'id, unique id prefix or name' }) id: string,
    @Args('intervalMs', { type: () => Int, nullable: true, defaultValue: DEFAULT_STATS_INTERVAL_MS, description: `${MIN_STATS_INTERVAL_MS} to ${MAX_STATS_INTERVAL_MS}` })
    intervalMsArg: number | null,
    @Args('since', {
      type: () => String,
      nullable: true,
      description: 'start with the per-second history from this ISO time or duration back ("2m"; at most 10 minutes), fromHistory: true, oldest first; then live',
    })
    since?: string | null,
  ): Promise<AsyncIterableIterator<ContainerStatsModel | StreamFailure>> {
    const intervalMs = intervalMsArg ?? DEFAULT_STATS_INTERVAL_MS;
    if (!Number.isSafeInteger(intervalMs) || intervalMs < MIN_STATS_INTERVAL_MS || intervalMs > MAX_STATS_INTERVAL_MS) {
      throw new NsgateError('VALIDATION_FAILED', `intervalMs must be between ${MIN_STATS_INTERVAL_MS} and ${MAX_STATS_INTERVAL_MS}`, { intervalMs });
    }
    const release = this.service.acquire(this.holder(req));
    let first: ContainerStatsModel;
    let replay: ContainerStatsModel[] = [];
    try {
      if (since !== undefined && since !== null) {
        if (since.length > 40) throw new NsgateError('VALIDATION_FAILED', 'since is an ISO time or a duration such as "2m"', { field: 'since' });
        replay = await this.history.containerStatsSince(id, since);
      }
      first = await this.containers.stats(id);
    } catch (err) {
      release();
      throw err;
    }
    const ticks = this.service.untilShutdown(statsTicks(() => this.containers.stats(id), first, intervalMs, replay));
    return boundedIterator<ContainerStatsModel | StreamFailure>(ticks, {
      // the replay is delivered at once: it may not count as falling behind
      maxBuffered: MAX_BUFFERED_TICKS + replay.length,
      overflow: () => new StreamFailure(new NsgateError('RATE_LIMITED', 'this subscription is not being read; it was ended')),
      onEnd: release,
    });
  }

  private holder(req: NsgateRequest | undefined) {
    // graphql-ws: one request id per connection (set in onConnect)
    return { kind: 'graphql' as const, connection: String(req?.id ?? 'unknown') };
  }
}

/** The replayed history, `first`, then a fresh reading every intervalMs (never two at once); a failed reading is the last item. */
function statsTicks<T>(read: () => Promise<T>, first: T, intervalMs: number, replay: readonly T[] = []): Observable<T | StreamFailure> {
  return new Observable<T | StreamFailure>((subscriber) => {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const tick = async () => {
      try {
        const value = await read();
        if (stopped) return;
        subscriber.next(value);
        timer = setTimeout(() => void tick(), intervalMs);
      } catch (err) {
        if (stopped) return;
        subscriber.next(new StreamFailure(toNsgateError(err)));
        subscriber.complete();
      }
    };
    for (const old of replay) subscriber.next(old);
    subscriber.next(first);
    timer = setTimeout(() => void tick(), intervalMs);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  });
}
