import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Subject } from 'rxjs';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import type { Limits } from '../kernel/cgroups/driver.js';
import { CgroupSystem } from '../kernel/cgroups/system.js';
import { type LimitDrift, limitsDrift } from '../kernel/containers/drift.js';
import type { IndexedContainer } from './container-index.js';
import { ContainerIndex } from './container-index.js';

/** Containers a periodic check looks at per period (the rest wait for a view or the next period). */
const MAX_CHECKED_PER_SWEEP = 2000;

export interface DriftAppeared {
  id: string;
  name: string;
  drift: LimitDrift[];
}

/**
 * Drift between the kernel and the engine, for views (computed from the limits a view has just
 * read and the engine's limits the live model holds) and for a periodic check (every
 * NSGATE_CONTAINER_RECONCILE_MS, at most MAX_CHECKED_PER_SWEEP containers). `appeared$` fires
 * when a container's drift appears or changes, once; a drift that is gone is forgotten, so its
 * return fires again. Containers nsgate is changing right now are not judged (the kernel and
 * the engine are between two states).
 */
@Injectable()
export class ContainerDrift implements OnModuleInit, OnModuleDestroy {
  readonly appeared$ = new Subject<DriftAppeared>();
  private readonly logger = new Logger('containers');
  private readonly known = new Map<string, string>();
  private readonly changing = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly index: ContainerIndex,
    private readonly system: CgroupSystem,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.sweep(), this.config.containerReconcileMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.appeared$.complete();
  }

  /** The drift of a container whose kernel limits were just read; null when there is nothing to compare. */
  of(c: IndexedContainer, limits: Limits | null): LimitDrift[] | null {
    if (c.source !== 'engine' || !c.engineLimits || !limits || c.pid === null) return null;
    const drift = limitsDrift(limits, c.engineLimits);
    if (!this.changing.has(c.id)) this.note(c, drift);
    return drift;
  }

  /** Runs a change of the container's limits with drift judgement held off for it. */
  async whileChanging<T>(id: string, work: () => Promise<T>): Promise<T> {
    this.changing.set(id, (this.changing.get(id) ?? 0) + 1);
    try {
      return await work();
    } finally {
      const left = (this.changing.get(id) ?? 1) - 1;
      if (left > 0) this.changing.set(id, left);
      else this.changing.delete(id);
    }
  }

  private note(c: IndexedContainer, drift: LimitDrift[]): void {
    if (drift.length === 0) {
      this.known.delete(c.id);
      return;
    }
    const signature = JSON.stringify(drift);
    if (this.known.get(c.id) === signature) return;
    this.known.set(c.id, signature);
    this.appeared$.next({ id: c.id, name: c.name, drift });
  }

  /** The periodic check: every running engine container, bounded; forgets containers that are gone. */
  async sweep(): Promise<void> {
    try {
      if (!this.index.status().loaded) return;
      const all = (await this.index.all()).filter((c) => c.source === 'engine');
      const present = new Set(all.map((c) => c.id));
      for (const id of [...this.known.keys()]) if (!present.has(id)) this.known.delete(id);
      for (const c of all.filter((x) => x.pid !== null && x.cgroupPath).slice(0, MAX_CHECKED_PER_SWEEP)) {
        try {
          this.of(c, this.system.readLimits(c.cgroupPath!));
        } catch {
          // it stopped meanwhile
        }
      }
    } catch (err) {
      this.logger.debug(`drift check: ${(err as Error).message}`);
    }
  }
}
