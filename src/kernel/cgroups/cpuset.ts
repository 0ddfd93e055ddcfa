import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsgateError, isErrno } from '../errors.js';

/** An inclusive range of CPU (or memory node) ids. */
export type IdRange = readonly [number, number];

const MAX_LIST_LENGTH = 4096;
const MAX_ITEMS = 1024;
/** The kernel's NR_CPUS tops out at 8192; seven digits is plenty and keeps Number() exact. */
const MAX_DIGITS = 7;

function listInvalid(field: string, value: string, reason: string): NsgateError {
  return new NsgateError('LIMIT_INVALID', `${field}: ${reason}`, { field, value: value.length > 64 ? `${value.slice(0, 64)}...` : value, reason });
}

/**
 * A kernel id list ("0-3,5", "" for none) as sorted, merged ranges, never expanded to single
 * ids, so "1-9223372036854775807" is refused by its length before any arithmetic.
 */
export function parseIdList(value: string, field = 'cpuset.cpus'): IdRange[] {
  if (typeof value !== 'string') throw listInvalid(field, String(value), 'must be a list like "0-3,5"');
  if (value.length > MAX_LIST_LENGTH) throw listInvalid(field, value, 'list too long');
  const text = value.trim();
  if (text === '') return [];
  const items = text.split(',');
  if (items.length > MAX_ITEMS) throw listInvalid(field, value, `more than ${MAX_ITEMS} items`);
  const ranges: [number, number][] = [];
  for (const raw of items) {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(raw);
    if (!m) throw listInvalid(field, value, `"${raw.slice(0, 32)}" is not an id or a range like 0-3`);
    if (m[1].length > MAX_DIGITS || (m[2] ?? '').length > MAX_DIGITS) throw listInvalid(field, value, 'id out of range');
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw listInvalid(field, value, `range ${raw.trim()} runs backwards`);
    ranges.push([lo, hi]);
  }
  return mergeRanges(ranges);
}

export function mergeRanges(ranges: readonly IdRange[]): IdRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

export function formatIdList(ranges: readonly IdRange[]): string {
  return ranges.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}-${hi}`)).join(',');
}

/** True when every id of `wanted` is in `allowed` (both merged). */
export function rangesWithin(wanted: readonly IdRange[], allowed: readonly IdRange[]): boolean {
  return wanted.every(([lo, hi]) => allowed.some(([alo, ahi]) => alo <= lo && hi <= ahi));
}

/**
 * A requested cpuset list, checked against what the host has: parsed, bounded, normalized
 * ("0,1" -> "0-1"). Refuses ids the host does not have online.
 */
export function validateIdList(value: string, online: readonly IdRange[], field: string): string {
  const ranges = parseIdList(value, field);
  if (!rangesWithin(ranges, online)) {
    throw new NsgateError('LIMIT_INVALID', `${field}: ${value} is not within the host's online ${field.endsWith('mems') ? 'memory nodes' : 'CPUs'} (${formatIdList(online)})`, {
      field,
      value,
      online: formatIdList(online),
      reason: 'outside the online set',
    });
  }
  return formatIdList(ranges);
}

/** The host's online CPUs and memory nodes, from sysfs (a node list missing means node 0 only). */
export interface HostTopology {
  cpus: IdRange[];
  mems: IdRange[];
}

export function readHostTopology(sysRoot = '/sys'): HostTopology {
  const cpus = parseIdList(readFileSync(join(sysRoot, 'devices/system/cpu/online'), 'utf8'), 'cpu/online');
  let mems: IdRange[] = [[0, 0]];
  try {
    mems = parseIdList(readFileSync(join(sysRoot, 'devices/system/node/online'), 'utf8'), 'node/online');
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  return { cpus, mems };
}
