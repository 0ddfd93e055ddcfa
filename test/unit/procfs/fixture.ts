import { fileURLToPath } from 'node:url';

/** The committed mini /proc (see its README.md) and the passwd file beside its pids. */
export const FIXTURE_PROC = fileURLToPath(new URL('../fixtures/proc', import.meta.url));
export const FIXTURE_PASSWD = `${FIXTURE_PROC}/etc-passwd`;
export const fixture = { procRoot: FIXTURE_PROC };
