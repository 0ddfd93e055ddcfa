import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import { AUDITED_EXTENSION } from '../docs/openapi-extensions.js';
import type { HandlerInput } from '../common/request-context.js';

export const AUDIT_KEY = 'nsgate:audit';

export interface AuditSpec {
  /** A name like "cgroup.limits"; a function where one route serves several actions. */
  action: string | ((input: HandlerInput) => string);
  target: (input: HandlerInput) => string;
  /** Audit only when this holds (e.g. a read that reveals secrets); default: always. */
  when?: (input: HandlerInput) => boolean;
  /** What of the answer the completed line keeps as `after`; default its `after` field. */
  outcome?: (response: unknown) => unknown;
}

/**
 * Marks a handler as a mutation (or a sensitive read): every call, allowed or refused,
 * is written to the audit log before the response, in two stages.
 */
export function Audit(action: AuditSpec['action'], target: AuditSpec['target'], when?: AuditSpec['when'], outcome?: AuditSpec['outcome']) {
  return applyDecorators(
    SetMetadata(AUDIT_KEY, { action, target, when, outcome } satisfies AuditSpec),
    // the OpenAPI document names the action (or true where it depends on the call) and adds 503 AUDIT_UNAVAILABLE
    ApiExtension(AUDITED_EXTENSION, typeof action === 'string' ? action : true),
  );
}

/** The action a call is audited under; never throws (an audit line must always be written). */
export function actionOf(spec: AuditSpec, input: HandlerInput): string {
  if (typeof spec.action === 'string') return spec.action;
  try {
    return spec.action(input);
  } catch {
    return 'unknown';
  }
}

/** The target a call is audited under; never throws. */
export function safeTarget(spec: AuditSpec, input: HandlerInput): string {
  try {
    return spec.target(input);
  } catch {
    return 'unknown';
  }
}
