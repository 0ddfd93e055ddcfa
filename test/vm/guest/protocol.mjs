// The guest side of the VM test protocol (see test/vm/run-in-vm.ts): one JSON line per case,
// {"suite", "case", "ok", "error"?, "ms", ...details}, printed as soon as the case ends.
import { isDeepStrictEqual, inspect } from 'node:util';

/** Drops undefined-valued keys, so equality means what Vitest's toEqual means. */
function normalize(value) {
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, normalize(v)]),
    );
  }
  return value;
}

/** The assertions the shared cases use (toEqual / toBeTruthy semantics), on node alone. */
export const assert = {
  equal(actual, expected, message) {
    if (!isDeepStrictEqual(normalize(actual), normalize(expected))) {
      const show = (v) => inspect(v, { depth: 6, breakLength: Infinity });
      throw new Error(`${message ? `${message}: ` : ''}expected ${show(expected)}, got ${show(actual)}`);
    }
  },
  ok(value, message) {
    if (!value) throw new Error(`${message ?? 'expected a truthy value'}: got ${inspect(value)}`);
  },
};

function describeError(e) {
  if (!(e instanceof Error)) return String(e);
  const code = e.code ? ` [${e.code}]` : '';
  const details = e.details ? ` ${JSON.stringify(e.details)}` : '';
  return `${e.message}${code}${details}`;
}

/**
 * Runs `cases` ({name, run(arg)}) in order; `argFor(detail)` builds what each case's run gets.
 * Returns the number of failures.
 */
export async function runCases(suite, cases, argFor) {
  let failed = 0;
  for (const c of cases) {
    const detail = {};
    const t0 = Date.now();
    let line;
    try {
      await c.run(argFor(detail));
      line = { suite, case: c.name, ok: true, ms: Date.now() - t0, ...detail };
    } catch (e) {
      failed++;
      line = { suite, case: c.name, ok: false, error: describeError(e), ms: Date.now() - t0, ...detail };
    }
    let text;
    try {
      text = JSON.stringify(line);
    } catch (e) {
      text = JSON.stringify({ suite, case: c.name, ok: line.ok, error: line.error, detailError: String(e) });
    }
    console.log(text);
  }
  return failed;
}
