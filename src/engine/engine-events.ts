import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { followEngineEvents } from '../events/engine-feed.js';
import type { ContainerEvent } from '../kernel/docker/containers.js';
import { DockerEngine } from '../kernel/docker/engine.js';
import { MODEL_ACTIONS } from '../kernel/containers/live-model.js';

export interface EngineEventsListener {
  onEvent(event: ContainerEvent): void;
  /** The stream was lost (false) or delivers again (true). */
  onFollowing?(following: boolean): void;
}

/**
 * The one reader of the engine's event stream in the process (followEngineEvents: reconnects
 * on its own and replays what it missed). The live container model and the event bus listen
 * here; neither opens a stream of its own.
 */
@Injectable()
export class EngineEvents implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('engine-events');
  private readonly listeners = new Set<EngineEventsListener>();
  private readonly stop = new AbortController();
  private feed: Promise<void> | undefined;
  private delivering = true;

  constructor(private readonly engine: DockerEngine) {}

  onModuleInit(): void {
    this.feed = followEngineEvents(this.engine, {
      signal: this.stop.signal,
      since: new Date(),
      actions: [...MODEL_ACTIONS],
      onEvent: (event) => this.deliver(event),
      onFollowing: (following) => {
        for (const l of this.listeners) l.onFollowing?.(following);
      },
      log: { warn: (m) => this.logger.warn(m), log: (m) => this.logger.log(m), debug: (m) => this.logger.debug(m) },
    });
  }

  async onModuleDestroy(): Promise<void> {
    this.stop.abort();
    await this.feed;
  }

  /** Returns the function that stops listening. */
  listen(listener: EngineEventsListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Tests only: while false, events are read and dropped, as a stream that lost them would
   * (so the periodic reconcile is what must heal the model).
   */
  setDelivering(on: boolean): void {
    this.delivering = on;
  }

  private deliver(event: ContainerEvent): void {
    if (!this.delivering) return;
    for (const l of this.listeners) {
      try {
        l.onEvent(event);
      } catch (err) {
        this.logger.warn(`a listener failed on ${event.action} ${event.id}: ${(err as Error).message}`);
      }
    }
  }
}
