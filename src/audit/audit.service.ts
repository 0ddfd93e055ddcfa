import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Subject } from 'rxjs';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import type { AuditEntry, AuditFilter } from './audit-entry.js';
import { AuditLog, type AuditPage } from './audit-log.js';
import { maskSecrets } from './mask.js';

/** What a caller records; time is stamped here and the optional parts default to null. */
export type AuditRecord = Omit<AuditEntry, 'time' | 'errorCode' | 'request' | 'before' | 'after'> &
  Partial<Pick<AuditEntry, 'errorCode' | 'request' | 'before' | 'after'>>;

@Injectable()
export class AuditService implements OnModuleInit, OnApplicationShutdown {
  private readonly log: AuditLog;
  /** Each completed line, once it is on disk (the events module publishes successful limit changes). */
  readonly completed$ = new Subject<AuditEntry>();

  constructor(@Inject(CONFIG) config: Config) {
    this.log = new AuditLog(config.auditFile, { maxBytes: config.auditMaxBytes, maxFiles: config.auditMaxFiles });
  }

  async onModuleInit(): Promise<void> {
    await this.log.open();
  }

  async onApplicationShutdown(): Promise<void> {
    this.completed$.complete();
    await this.log.close();
  }

  /** Writes one line and resolves once it is on disk. */
  record(record: AuditRecord): Promise<void> {
    const entry: AuditEntry = {
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
    return this.log.append(entry).then(() => {
      if (entry.stage === 'completed') this.completed$.next(entry);
    });
  }

  read(filter: AuditFilter, limit: number, cursor?: string): Promise<AuditPage> {
    return this.log.read(filter, limit, cursor);
  }
}
