import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Subject } from 'rxjs';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import type { AuditEntry, AuditFilter } from './audit-entry.js';
import { AuditLog, type AuditPage, type LinePriority, readMerged } from './audit-log.js';
import { maskSecrets } from './mask.js';
import { RefusalLimiter } from './refusals.js';

/** What a caller records; time is stamped here and the optional parts default to null. */
export type AuditRecord = Omit<AuditEntry, 'time' | 'errorCode' | 'request' | 'before' | 'after'> &
  Partial<Pick<AuditEntry, 'errorCode' | 'request' | 'before' | 'after'>>;

/** Puts back a change whose completed line could not be written: gets the handler's answer and the audited target. */
export type Reverter = (response: unknown, target: string) => Promise<void>;

const DRAIN_REFUSALS_MS = 60_000;

/**
 * Two logs: changes (audit.log: every line of an authenticated, allowed call) and refusals
 * (audit-refused.log: 401/403 lines, no request body, at most auditRefusalsPerMinute per client
 * address plus a counter line for what was dropped). Refusals never share a file with changes, so
 * no number of refused requests rotates a change out. Reads merge both, newest first.
 */
@Injectable()
export class AuditService implements OnModuleInit, OnApplicationShutdown {
  private readonly changes: AuditLog;
  private readonly refused: AuditLog;
  private readonly limiter: RefusalLimiter;
  private readonly reverters = new Map<string, Reverter>();
  private readonly logger = new Logger('audit');
  private drainTimer: NodeJS.Timeout | undefined;
  /** Each completed line, once it is on disk (the events module publishes successful limit changes). */
  readonly completed$ = new Subject<AuditEntry>();

  constructor(@Inject(CONFIG) config: Config) {
    const rotation = { maxBytes: config.auditMaxBytes, maxFiles: config.auditMaxFiles };
    this.changes = new AuditLog(config.auditFile, { ...rotation, reserveBytes: config.auditReserveBytes });
    this.refused = new AuditLog(config.auditRefusedFile, rotation);
    this.limiter = new RefusalLimiter(config.auditRefusalsPerMinute);
  }

  async onModuleInit(): Promise<void> {
    await this.changes.open();
    await this.refused.open();
    this.drainTimer = setInterval(() => void this.drainRefusals(), DRAIN_REFUSALS_MS);
    this.drainTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.drainTimer);
    await this.drainRefusals();
    this.completed$.complete();
    await this.changes.close();
    await this.refused.close();
  }

  /** Why changes are refused now (the change log cannot take new lines), or null. */
  get unavailable(): string | null {
    return this.changes.unavailable;
  }

  /**
   * Writes one line of an allowed call to the change log and resolves once it is on disk.
   * `owed`: the completed line of a change under way, which may use the reserved space.
   */
  record(record: AuditRecord, priority: LinePriority = 'new'): Promise<void> {
    const entry = stamp(record);
    return this.changes.append(entry, priority).then(() => {
      if (entry.stage === 'completed') this.completed$.next(entry);
    });
  }

  /** Logs a refused call (no body), unless its address is over its share; never fails. */
  async recordRefusal(record: AuditRecord, address: string): Promise<void> {
    if (!this.limiter.admit(address)) return;
    await this.refused.append(stamp({ ...record, request: null })).catch((err: Error) => this.logger.warn(`refusal not logged: ${err.message}`));
  }

  registerReverter(action: string, reverter: Reverter): void {
    this.reverters.set(action, reverter);
  }

  /** Puts a change back (true), or false when the action has no way back or putting it back failed. */
  async revert(action: string, response: unknown, target: string): Promise<boolean> {
    const reverter = this.reverters.get(action);
    if (!reverter) return false;
    try {
      await reverter(response, target);
      return true;
    } catch (err) {
      this.logger.error(`could not revert ${action} on ${target}: ${(err as Error).message}`);
      return false;
    }
  }

  read(filter: AuditFilter, limit: number, cursor?: string): Promise<AuditPage> {
    return readMerged([this.changes, this.refused], filter, limit, cursor);
  }

  private async drainRefusals(): Promise<void> {
    for (const { address, dropped, since } of this.limiter.drain()) {
      const line = stamp({
        requestId: 'refusals-dropped',
        caller: null,
        action: 'audit.refusals.dropped',
        target: `address:${address}`,
        stage: 'completed',
        result: 'denied',
        errorCode: 'RATE_LIMITED',
        after: { dropped, since: new Date(since).toISOString() },
      });
      await this.refused.append(line).catch((err: Error) => this.logger.warn(`refusal counter not logged: ${err.message}`));
    }
  }
}

function stamp(record: AuditRecord): AuditEntry {
  return {
    time: new Date().toISOString(),
    requestId: record.requestId,
    caller: record.caller,
    action: record.action,
    target: record.target,
    stage: record.stage,
    result: record.result,
    errorCode: record.errorCode ?? null,
    request: record.request === undefined ? null : maskSecrets(record.request),
    before: record.before ?? null,
    after: record.after ?? null,
  };
}
