const SECRET_KEY = /pass(word|wd)?|secret|token|api[-_]?key|private[-_]?key|credential|authorization|cookie|session|^stdin$/i;
const MASK = '***';
const MAX_DEPTH = 8;
const MAX_STRING = 4096;

/**
 * A copy of a request body fit for the audit log: values under secret-looking keys are
 * masked, values of an `env` map are masked whole (a caller's environment is where secrets
 * travel), long strings are cut and depth is bounded.
 */
export function maskSecrets(value: unknown, depth = 0, parentKey = ''): unknown {
  if (depth > MAX_DEPTH) return '[depth limit]';
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…[${value.length} chars]` : value;
  if (Array.isArray(value)) {
    if (/^env$/i.test(parentKey)) return value.map((v) => (typeof v === 'string' && v.includes('=') ? `${v.split('=')[0]}=${MASK}` : MASK));
    return value.slice(0, 1000).map((v) => maskSecrets(v, depth + 1, parentKey));
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    const maskAll = /^env(ironment)?$/i.test(parentKey);
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      out[key] = maskAll || SECRET_KEY.test(key) ? MASK : maskSecrets(v, depth + 1, key);
    }
    return out;
  }
  return value;
}
