import { randomBytes } from 'node:crypto';
import { startTimeOf } from '../procfs/start-time.js';

/**
 * Names for nsgate's own cgroups (an exec's, a sandbox's) that say which nsgate process made
 * them: `<prefix><pid>.<start time in ticks>.<unique>`. The sweep at start removes what a dead nsgate
 * left, and leaves alone what a live one holds: two services (or a service and a test) given the
 * same internal cgroup must not remove each other's running sandboxes or waiting spare cgroups.
 */
export interface OwnNames {
  /** A new name, unique, owned by this process. */
  next(prefix?: string): string;
  /** False for a name whose owner is not running now (or a name from before owners were named). */
  ownerAlive(name: string): boolean;
}

const OWNED = /^(?:[a-z]+-)?(\d{1,10})\.(\d{1,20})\./;

export function ownNames(procRoot: string, pid = process.pid): OwnNames {
  let self: string | undefined;
  return {
    next(prefix = '') {
      self ??= `${pid}.${startTimeOf(procRoot, pid) ?? 0}`;
      return `${prefix}${self}.${randomBytes(6).toString('hex')}`;
    },
    ownerAlive(name) {
      const m = OWNED.exec(name);
      if (!m) return false;
      return startTimeOf(procRoot, Number(m[1])) === Number(m[2]);
    },
  };
}
