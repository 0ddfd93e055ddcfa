import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import { NsgateError } from '../kernel/errors.js';
import { type Lease, LeaseStore } from './lease-store.js';

/** Leases held at once; a change asking for one more is refused before it writes anything. */
export const MAX_LEASES = 1000;
/** How often due leases are looked for. */
const TICK_MS = 1000;
/** A restore that keeps failing is tried this many times (once per RETRY_MS), then the lease ends as failed. */
const MAX_FAILURES = 5;
const RETRY_MS = 5000;
/** Errors after which trying again cannot help: the cgroup or container is gone. */
const TERMINAL = new Set(['CGROUP_NOT_FOUND', 'CGROUP_GONE', 'CONTAINER_NOT_FOUND', 'NOT_FOUND']);

/** Puts a lease's `before` values back; answers the limits before and after, as its route reads them. */
export type LeaseRestorer = (lease: Lease) => Promise<{ before: unknown; after: unknown }>;

export interface NewLease {
  kind: Lease['kind'];
  target: string;
  fields: string[];
  ttlSeconds: number;
  requestId: string;
  before: unknown;
  after: unknown;
}

/** What a change answers of its lease; a dry run's has no id (it says the lease it would make). */
export interface LeaseRef {
  id: string | null;
  expiresAt: string;
  fields: string[];
}

/** What GET /v1/leases shows of a lease. */
export type LeaseView = Omit<Lease, 'failures' | 'lastError'> & { failures: number; lastError: string | null };

/**
 * Leases: a limit change with ttlSeconds is put back at expiry. They live in the state folder
 * (leases.json) and outlive restarts: one overdue at start is applied on the first tick. A later
 * change touching one of a lease's fields ends it void; DELETE keeps the change. Expiry, voiding
 * and keeping are audited (lease.expired, lease.voided, lease.kept) and so published as events.
 */
@Injectable()
export class LeasesService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('leases');
  private readonly store: LeaseStore;
  private readonly restorers = new Map<Lease['kind'], LeaseRestorer>();
  private readonly retryAt = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | null = null;

  constructor(
    @Inject(CONFIG) config: Config,
    private readonly audit: AuditService,
  ) {
    this.store = new LeaseStore(join(config.dataDir, 'leases.json'));
  }

  async onApplicationBootstrap(): Promise<void> {
    const { loaded, setAside } = await this.store.load();
    if (setAside) this.logger.error(`leases.json could not be read; it was kept as ${setAside} and nsgate starts with no leases`);
    if (loaded) this.logger.log(`${loaded} lease(s) from the state folder`);
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
    void this.tick();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
  }

  registerRestorer(kind: Lease['kind'], restorer: LeaseRestorer): void {
    this.restorers.set(kind, restorer);
  }

  list(): LeaseView[] {
    return this.store.all().sort((a, b) => a.expiresAt.localeCompare(b.expiresAt));
  }

  /** Refused before a change writes anything: the lease it asks for would be one too many. */
  assertRoom(): void {
    if (this.store.size >= MAX_LEASES) {
      throw new NsgateError('CONFLICT', `nsgate holds ${this.store.size} leases, the most it keeps; let some expire or keep them (DELETE /v1/leases/{id}) first`, {
        leases: this.store.size,
        limit: MAX_LEASES,
      });
    }
  }

  /**
   * After a successful change of `target`: earlier leases whose fields it touched end void
   * (audited), and, with ttlSeconds, the change's own lease is on disk before this resolves.
   */
  async afterChange(change: { target: string; fields: string[]; requestId: string }, lease?: NewLease): Promise<Lease | null> {
    const touched = new Set(change.fields);
    const hits = (l: Lease) => l.target === change.target && l.fields.some((f) => touched.has(f));
    // Most changes make no lease and end none: nothing to write then (a full state disk must not
    // fail them, and the file's fsync is not every change's cost).
    if (!lease && !this.store.all().some(hits)) return null;
    const created = lease ? this.newLease(lease) : null;
    const voided = await this.store.update((leases) => {
      const hit = leases.filter(hits);
      const rest = leases.filter((l) => !hit.includes(l));
      return { leases: created ? [...rest, created] : rest, result: hit };
    });
    for (const l of voided) {
      this.retryAt.delete(l.id);
      await this.record(l, 'lease.voided', 'ok', null, { leaseId: l.id, fields: l.fields, by: change.requestId });
    }
    return created;
  }

  /** A dry run's answer: the lease a change with ttlSeconds would make (nothing is kept). */
  wouldMake(fields: string[], ttlSeconds: number): LeaseRef {
    this.assertRoom();
    return { id: null, expiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString(), fields: [...new Set(fields)].sort() };
  }

  /** The change was undone (a batch put it back): its lease ends with nothing to do. */
  async drop(id: string): Promise<void> {
    await this.remove(id);
  }

  /** DELETE /v1/leases/{id}: the change stays; the lease is gone. */
  async keep(id: string): Promise<Lease> {
    const kept = await this.store.update((leases) => {
      const lease = leases.find((l) => l.id === id);
      if (!lease) throw new NsgateError('NOT_FOUND', `no lease ${id}: it expired, was voided or kept, or never was`, { id });
      return { leases: leases.filter((l) => l !== lease), result: lease };
    });
    this.retryAt.delete(id);
    return kept;
  }

  private newLease(l: NewLease): Lease {
    const now = Date.now();
    return {
      id: randomUUID(),
      target: l.target,
      kind: l.kind,
      fields: [...new Set(l.fields)].sort(),
      ttlSeconds: l.ttlSeconds,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + l.ttlSeconds * 1000).toISOString(),
      requestId: l.requestId,
      before: l.before,
      after: l.after,
      failures: 0,
      lastError: null,
    };
  }

  /** One pass over the due leases; passes never overlap. */
  tick(): Promise<void> {
    this.ticking ??= this.expireDue().finally(() => (this.ticking = null));
    return this.ticking;
  }

  private async expireDue(): Promise<void> {
    const now = Date.now();
    const due = this.store.all().filter((l) => Date.parse(l.expiresAt) <= now && (this.retryAt.get(l.id) ?? 0) <= now);
    for (const lease of due) {
      // voided or kept meanwhile
      if (!this.store.find(lease.id)) continue;
      const restorer = this.restorers.get(lease.kind);
      if (!restorer) continue;
      try {
        const { before, after } = await restorer(lease);
        if (!(await this.remove(lease.id))) continue;
        await this.record(lease, 'lease.expired', 'ok', null, { leaseId: lease.id, fields: lease.fields, limits: after }, before);
      } catch (err) {
        await this.failed(lease, err);
      }
    }
  }

  private async failed(lease: Lease, err: unknown): Promise<void> {
    const code = err instanceof NsgateError ? err.code : 'INTERNAL';
    const message = (err as Error).message;
    if (code === 'CONFLICT' && err instanceof NsgateError && Array.isArray(err.details?.changed)) {
      // its fields moved since (a change nsgate had not yet seen end, or a write by hand): void, not failed
      if (await this.remove(lease.id)) await this.record(lease, 'lease.voided', 'ok', null, { leaseId: lease.id, fields: lease.fields, by: null, changed: err.details.changed });
      return;
    }
    const failures = lease.failures + 1;
    if (TERMINAL.has(code) || failures >= MAX_FAILURES) {
      if (await this.remove(lease.id)) {
        this.logger.warn(`lease ${lease.id} on ${lease.target} could not be restored (${code}): ${message}; it ends here`);
        await this.record(lease, 'lease.expired', 'failed', code, { leaseId: lease.id, fields: lease.fields, error: message, failures });
      }
      return;
    }
    this.retryAt.set(lease.id, Date.now() + RETRY_MS);
    await this.store
      .update((leases) => ({ leases: leases.map((l) => (l.id === lease.id ? { ...l, failures, lastError: `${code}: ${message}` } : l)), result: undefined }))
      .catch(() => undefined);
  }

  private remove(id: string): Promise<boolean> {
    this.retryAt.delete(id);
    return this.store.update((leases) => {
      const rest = leases.filter((l) => l.id !== id);
      return { leases: rest, result: rest.length !== leases.length };
    });
  }

  private async record(lease: Lease, action: string, result: 'ok' | 'failed', errorCode: string | null, after: Record<string, unknown>, before: unknown = null): Promise<void> {
    await this.audit
      .record({ requestId: `lease-${lease.id}`, caller: null, action, target: lease.target, stage: 'completed', result, errorCode, request: null, before, after }, 'owed')
      .catch((err: Error) => this.logger.error(`${action} of lease ${lease.id} not audited: ${err.message}`));
  }
}
