import { createHash } from 'node:crypto';
import { NsgateError } from '../kernel/errors.js';

/**
 * The version of a target's limits: a hash of the values the kernel holds (and, for a
 * container, the engine's too), so it moves exactly when a limit moves, whoever moved it
 * (nsgate, `docker update`, an `echo` into the file), and not when usage does.
 * Strong: two equal versions mean byte-equal values.
 */
export function limitsVersion(values: unknown): string {
  return createHash('sha256').update(canonicalJson(values)).digest('base64url').slice(0, 22);
}

/** The version as an HTTP entity tag ("…", strong). */
export function etagOf(version: string): string {
  return `"${version}"`;
}

/** JSON with object keys sorted at every level: the same values always give the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/**
 * An If-Match header (or GraphQL ifVersion) as the versions it accepts: `"v"`, `v`, a comma
 * list of them, or `*` (any version: the target only has to exist). Weak tags (W/"…") never
 * match: If-Match compares strongly (RFC 9110 13.1.1). undefined = no precondition.
 */
export function parseIfMatch(header: string | string[] | undefined | null): string[] | '*' | undefined {
  if (header === undefined || header === null) return undefined;
  const text = (Array.isArray(header) ? header.join(',') : header).trim();
  if (text === '') return undefined;
  if (text === '*') return '*';
  const tags = text.split(',').map((t) => t.trim()).filter(Boolean);
  if (tags.length > 32 || text.length > 2048) throw new NsgateError('VALIDATION_FAILED', 'If-Match: at most 32 versions', { count: tags.length });
  return tags.map((t) => (t.startsWith('W/') ? '' : t.replace(/^"(.*)"$/, '$1'))).filter(Boolean);
}

/**
 * Refuses (412 PRECONDITION_FAILED, nothing written) when the current version is not one the
 * caller expected; the error carries the current values and version so a tuner can re-plan
 * without another read.
 */
export function checkPrecondition(expected: string[] | '*' | undefined, target: string, current: { version: string; values: unknown }): void {
  if (expected === undefined || expected === '*') return;
  if (expected.includes(current.version)) return;
  throw new NsgateError('PRECONDITION_FAILED', `the limits of ${target} moved since version ${expected.join(', ')}; nothing was changed`, {
    target,
    expected,
    version: current.version,
    current: current.values,
  });
}
