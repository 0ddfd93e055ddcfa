import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { defer, finalize, type Observable, Subject, type Subscription, takeUntil } from 'rxjs';
import type { AuditEntry } from '../audit/audit-entry.js';
import { AuditService } from '../audit/audit.service.js';
import type { Caller } from '../auth/roles.js';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import { CgroupSystem } from '../kernel/cgroups/system.js';
import { type ContainerEvent, resolveContainer } from '../kernel/docker/containers.js';
import { DockerEngine } from '../kernel/docker/engine.js';
import { NsgateError } from '../kernel/errors.js';
import { type EventFilter, type NsgateEvent } from './event.js';
import { EventBus } from './event-bus.js';
import { EngineEvents } from '../engine/engine-events.js';
import { containerCgroup, managedCgroups, readOomKills, runningContainerCgroups } from './oom-sources.js';
import { type OomKill, OomWatch } from './oom-watch.js';

/** Limits and timings; tests shorten some of them on the running service. */
export interface EventsSettings {
  /** SSE comment lines keep proxies and clients from timing out a quiet stream. */
  heartbeatMs: number;
  /** Open SSE streams per caller (token name); one more is 429 RATE_LIMITED. */
  maxStreamsPerCaller: number;
  /** Active GraphQL subscriptions per graphql-ws connection. */
  maxSubscriptionsPerConnection: number;
  /** Events a GraphQL subscriber may fall behind before its subscription ends. */
  maxBufferedPerSubscription: number;
  /** How often cgroup OOM-kill counters are read while someone listens for them. */
  oomPollMs: number;
}

export const DEFAULT_EVENTS_SETTINGS: EventsSettings = {
  heartbeatMs: 15_000,
  maxStreamsPerCaller: 10,
  maxSubscriptionsPerConnection: 10,
  maxBufferedPerSubscription: 1000,
  oomPollMs: 1000,
};

const LIMIT_ACTIONS = new Set(['cgroup.limits', 'container.limits']);
const BATCH_ACTION = 'changes.apply';
const TREE_ACTIONS = new Set(['cgroup.create', 'cgroup.delete']);
const FULL_ID = /^[0-9a-f]{64}$/;

/** Who holds a stream: an SSE client (per caller) or a GraphQL subscription (per connection). */
export type StreamHolder = { kind: 'sse'; caller: Caller } | { kind: 'graphql'; connection: string };

/**
 * The event bus and its sources: the engine's container events (followed for the life of
 * the process, reconnecting on its own), limit changes (completed audit lines), and cgroup
 * OOM kills (counters polled only while a stream wants them). Streams are counted and
 * capped per caller / connection, and all of them end when the application shuts down.
 */
@Injectable()
export class EventsService implements OnModuleInit, OnModuleDestroy {
  readonly settings: EventsSettings = { ...DEFAULT_EVENTS_SETTINGS };
  private readonly logger = new Logger('events');
  readonly bus = new EventBus();
  private readonly closing = new Subject<void>();
  private readonly holders = new Map<string, number>();
  private oomListeners = 0;
  private readonly oom: OomWatch;
  private auditSubscription: Subscription | undefined;
  private unlisten: (() => void) | undefined;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly engine: DockerEngine,
    private readonly system: CgroupSystem,
    private readonly audit: AuditService,
    private readonly engineEvents: EngineEvents,
  ) {
    this.oom = new OomWatch({
      readCounter: (path) => readOomKills(this.system, path),
      sources: [
        { name: 'managed', list: async () => managedCgroups(this.system) },
        { name: 'containers', list: () => runningContainerCgroups(this.engine, this.config.procRoot) },
      ],
      onKill: (kill) => this.publishOomKill(kill),
      onError: (message) => this.logger.debug(message),
      intervalMs: () => this.settings.oomPollMs,
    });
  }

  onModuleInit(): void {
    this.unlisten = this.engineEvents.listen({ onEvent: (event) => this.onEngineEvent(event) });
    // AuditService.completed$: every completed audit line, once it is on disk
    const completed = (this.audit as AuditService & { completed$?: Observable<AuditEntry> }).completed$;
    if (completed) this.auditSubscription = completed.subscribe((entry) => this.onAuditCompleted(entry));
    else this.logger.warn('AuditService has no completed$: limits.changed events are not published');
  }

  onModuleDestroy(): void {
    this.auditSubscription?.unsubscribe();
    this.oom.stop();
    this.closing.next();
    this.closing.complete();
    this.bus.close();
    this.unlisten?.();
  }

  /** Open streams and what the OOM watch follows (diagnostics, tests). */
  status(): { streams: Record<string, number>; oomWatching: boolean; oomPaths: string[] } {
    return { streams: Object.fromEntries(this.holders), oomWatching: this.oom.running, oomPaths: this.oom.paths() };
  }

  /** Ends with the application: streams and tickers complete on shutdown. */
  untilShutdown<T>(source: Observable<T>): Observable<T> {
    return source.pipe(takeUntil(this.closing));
  }

  /**
   * Replay after `afterId` (when given), then live events, filtered. With a holder, a slot is
   * taken on subscription: one too many fails there with RATE_LIMITED (before an SSE response
   * starts); without one, the caller took it already (acquire()).
   */
  stream(filter: EventFilter, afterId?: number, holder?: StreamHolder): Observable<NsgateEvent> {
    return defer(() => {
      const release = holder ? this.acquire(holder) : () => undefined;
      const wantsOom = !filter.types || filter.types.size === 0 || filter.types.has('cgroup.oom_kill');
      if (wantsOom) this.oomListenerAdded();
      return this.untilShutdown(this.bus.stream(filter, afterId)).pipe(
        finalize(() => {
          release();
          if (wantsOom) this.oomListenerRemoved();
        }),
      );
    });
  }

  /** Takes a slot for a holder; the returned function gives it back (once). */
  acquire(holder: StreamHolder): () => void {
    const key = holder.kind === 'sse' ? `sse:${holder.caller.name}` : `graphql:${holder.connection}`;
    const max = holder.kind === 'sse' ? this.settings.maxStreamsPerCaller : this.settings.maxSubscriptionsPerConnection;
    const held = this.holders.get(key) ?? 0;
    if (held >= max) {
      const what = holder.kind === 'sse' ? `${holder.caller.name} has ${held} event streams open` : `this connection has ${held} subscriptions`;
      throw new NsgateError('RATE_LIMITED', `${what}, the most allowed; close one first`, { open: held, limit: max });
    }
    this.holders.set(key, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = (this.holders.get(key) ?? 1) - 1;
      if (now > 0) this.holders.set(key, now);
      else this.holders.delete(key);
    };
  }

  // ---- sources ---------------------------------------------------------------------------

  private onEngineEvent(event: ContainerEvent): void {
    const target = `container:${event.id}`;
    const data: Record<string, unknown> = { name: event.name ?? null, image: event.image ?? null };
    switch (event.action) {
      case 'start':
        this.bus.publish('container.start', target, data, event.time);
        if (this.oom.running) void this.watchContainer(event.id);
        break;
      case 'die':
        // a last reading of its OOM-kill counter comes first: the kill happened before the death
        this.unwatchContainer(event.id);
        this.bus.publish('container.die', target, { ...data, exitCode: event.exitCode ?? null }, event.time);
        break;
      case 'oom': {
        this.bus.publish('container.oom', target, data, event.time);
        // read its counter now: a container whose init was killed loses its cgroup soon
        const path = this.oom.pathOfContainer(event.id);
        if (path) this.oom.pollNow(path);
        break;
      }
      default:
        break;
    }
  }

  private async watchContainer(id: string): Promise<void> {
    try {
      const target = await containerCgroup(this.engine, id, this.config.procRoot);
      if (!target || !this.oom.running) return;
      // a container that just started: every kill its cgroup has is news
      this.oom.add(target, 'containers', true);
    } catch (err) {
      this.logger.debug(`could not find the cgroup of container ${id}: ${(err as Error).message}`);
    }
  }

  private unwatchContainer(id: string): void {
    const path = this.oom.pathOfContainer(id);
    if (path) this.oom.remove(path);
  }

  private oomListenerAdded(): void {
    if (this.oomListeners++ === 0) {
      this.oom.start().catch((err: unknown) => this.logger.debug(`OOM watch start: ${(err as Error).message}`));
    }
  }

  private oomListenerRemoved(): void {
    if (--this.oomListeners === 0) this.oom.stop();
  }

  private publishOomKill(kill: OomKill): void {
    const data: Record<string, unknown> = { kills: kill.kills, total: kill.total };
    if (kill.containerId) {
      data.containerId = kill.containerId;
      data.containerName = kill.containerName ?? null;
    }
    this.bus.publish('cgroup.oom_kill', `cgroup:${kill.path}`, data);
  }

  /**
   * A completed audit line: successful limit changes become limits.changed (the caller is
   * left out: who did what is the audit log's, which only admins read); created or removed
   * managed cgroups make the OOM watch look at the tree again.
   */
  onAuditCompleted(entry: AuditEntry): void {
    try {
      if (entry.stage !== 'completed' || entry.result !== 'ok') return;
      if (TREE_ACTIONS.has(entry.action) && this.oom.running) void this.oom.refresh();
      if (entry.action === BATCH_ACTION && Array.isArray(entry.after)) {
        // a batch is one audit line; each of its items is a limit change of its own target
        for (const item of entry.after as { target: string; before: unknown; after: unknown }[]) {
          const action = item.target.startsWith('container:') ? 'container.limits' : 'cgroup.limits';
          this.publishLimitsChanged({ ...entry, action, target: item.target, before: item.before, after: item.after }).catch((err: unknown) =>
            this.logger.warn(`limits.changed: ${(err as Error).message}`),
          );
        }
        return;
      }
      if (!LIMIT_ACTIONS.has(entry.action)) return;
      this.publishLimitsChanged(entry).catch((err: unknown) => this.logger.warn(`limits.changed: ${(err as Error).message}`));
    } catch (err) {
      // never let an event fail the mutation that was audited
      this.logger.warn(`limits.changed: ${(err as Error).message}`);
    }
  }

  private async publishLimitsChanged(entry: AuditEntry): Promise<void> {
    const data: Record<string, unknown> = { action: entry.action, requestId: entry.requestId, before: entry.before, after: entry.after };
    let target = entry.target;
    const typed = target.startsWith('container:') ? target.slice('container:'.length) : undefined;
    if (typed !== undefined && !FULL_ID.test(typed)) {
      // the audit target is what the caller typed (a name or a prefix): events name containers by id
      try {
        const found = await resolveContainer(this.engine, typed);
        target = `container:${found.id}`;
        data.name = found.name;
      } catch {
        // gone already: keep what was typed
      }
    }
    this.bus.publish('limits.changed', target, data, entry.time);
  }
}
