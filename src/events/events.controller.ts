import { Controller, Headers, type MessageEvent, Query, Sse } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import { map, Observable } from 'rxjs';
import { Allow } from '../auth/auth.decorator.js';
import type { Caller } from '../auth/roles.js';
import { CurrentCaller } from '../common/caller.decorator.js';
import { EventsQuery } from './dto/events.query.js';
import { parseEventTypes, parseLastEventId, parseTargetFilter } from './event.js';
import { EventModel } from './event.models.js';
import { EventsService } from './events.service.js';

/** Events a client may leave unread before its connection is dropped (it reconnects with Last-Event-ID). */
const MAX_PENDING_CHARS = 1024 * 1024;

@ApiTags('events')
@Controller('v1/events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  /**
   * Nest's @Sse() on Fastify writes the raw response: headers go out once the stream is
   * subscribed (so a refusal such as 429 is still an ordinary JSON error), a client that goes
   * away unsubscribes it, and shutdown completes it, which ends the response.
   */
  @Sse('/', { maxPendingDataLength: MAX_PENDING_CHARS })
  @Allow('viewer')
  @ApiOperation({
    summary: 'Server-sent events: container start/die/oom, cgroup OOM kills, limit changes',
    description:
      'text/event-stream; each event is `id:`, `event:` (its type) and `data:` (the event as JSON), with a `: heartbeat` comment every 15 s. ' +
      'Send Last-Event-ID (or ?lastEventId=) to get what you missed first, from the last 1000 events. At most 10 open streams per token (429 RATE_LIMITED).',
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'replay the buffered events after this one' })
  @ApiOkResponse({ type: EventModel, description: 'a stream of these, one per `data:` line' })
  @ApiTooManyRequestsResponse({ description: 'RATE_LIMITED: this token has too many streams open' })
  stream(@Query() query: EventsQuery, @Headers('last-event-id') lastEventIdHeader: string | undefined, @CurrentCaller() caller: Caller): Observable<MessageEvent> {
    const types = parseEventTypes(query.type);
    const target = parseTargetFilter(query.target);
    const afterId = parseLastEventId(lastEventIdHeader) ?? parseLastEventId(query.lastEventId);
    const events = this.events
      .stream({ types, target }, afterId, { kind: 'sse', caller })
      .pipe(map((e): MessageEvent => ({ id: String(e.id), type: e.type, data: JSON.stringify(e) })));
    return withHeartbeat(events, this.events.settings.heartbeatMs);
  }
}

/** A comment line every `everyMs` for as long as `events` runs; it ends with them. */
function withHeartbeat(events: Observable<MessageEvent>, everyMs: number): Observable<MessageEvent> {
  return new Observable<MessageEvent>((subscriber) => {
    const subscription = events.subscribe(subscriber);
    // refused (RATE_LIMITED) or already over: nothing to keep alive
    if (subscriber.closed) return subscription;
    const timer = setInterval(() => subscriber.next({ comment: 'heartbeat' }), everyMs);
    return () => {
      clearInterval(timer);
      subscription.unsubscribe();
    };
  });
}
