/**
 * A handler's answer may say it is not the change its route makes: a dry run (nothing written)
 * or a replayed first answer (Idempotency-Key). Its completed audit line is then written under
 * `<action>.<kind>` (e.g. cgroup.limits.dry-run): still audited, but no limits.changed event
 * follows and no reverter applies. The mark is a symbol, so it never reaches the JSON answer.
 */
const AUDIT_AS = Symbol('nsgate.auditAs');

export type AuditKind = 'dry-run' | 'replay';

export function markAuditAs<T>(answer: T, kind: AuditKind): T {
  if (answer && typeof answer === 'object') Object.defineProperty(answer, AUDIT_AS, { value: kind, enumerable: false, configurable: true });
  return answer;
}

/** The action a completed line is written under, given the handler's answer. */
export function auditedAction(action: string, answer: unknown): string {
  const kind = answer && typeof answer === 'object' ? (answer as { [AUDIT_AS]?: AuditKind })[AUDIT_AS] : undefined;
  return kind ? `${action}.${kind}` : action;
}
