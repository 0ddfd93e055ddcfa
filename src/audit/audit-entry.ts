import type { Caller } from '../auth/roles.js';

export type AuditStage = 'received' | 'completed';
export type AuditResult = 'allowed' | 'ok' | 'denied' | 'failed';

/** One line of the audit log (JSON). Field names are stable: users script against them. */
export interface AuditEntry {
  time: string;
  requestId: string;
  caller: Caller | null;
  action: string;
  target: string;
  stage: AuditStage;
  result: AuditResult;
  errorCode: string | null;
  request: unknown;
  before: unknown;
  after: unknown;
}

export interface AuditFilter {
  caller?: string;
  target?: string;
  action?: string;
  since?: Date;
  until?: Date;
}
