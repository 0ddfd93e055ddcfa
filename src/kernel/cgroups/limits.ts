import { NsgateError } from '../errors.js';
import { type HostTopology, validateIdList } from './cpuset.js';
import type { Limits, LimitsChange } from './driver.js';
import {
  CPU_PERIOD_MAX_US,
  CPU_PERIOD_MIN_US,
  CPU_QUOTA_MIN_US,
  CPU_SHARES_MAX,
  CPU_SHARES_MIN,
  CPU_WEIGHT_MAX,
  CPU_WEIGHT_MIN,
  MEMORY_MIN_BYTES,
  PIDS_MAX_LIMIT,
  parseBytes,
  parseCount,
  parseCpuMax,
  parseInteger,
} from './units.js';

/**
 * A limits request as callers send it (REST body, GraphQL input): sizes may be "64M" or "max",
 * cpu.max may be "50000 100000" or {quotaUs, periodUs}.
 */
export interface LimitsInput {
  memory?: { max?: unknown; high?: unknown; swapMax?: unknown };
  cpu?: { max?: unknown; quotaUs?: unknown; periodUs?: unknown; weight?: unknown; shares?: unknown };
  pids?: { max?: unknown };
  cpuset?: { cpus?: unknown; mems?: unknown };
}

const KEYS: Record<string, readonly string[]> = {
  memory: ['max', 'high', 'swapMax'],
  cpu: ['max', 'quotaUs', 'periodUs', 'weight', 'shares'],
  pids: ['max'],
  cpuset: ['cpus', 'mems'],
};

function invalid(field: string, value: unknown, reason: string): NsgateError {
  return new NsgateError('LIMIT_INVALID', `${field}: ${reason}`, { field, value, reason });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Unknown keys are refused: a typo must not turn into a silent no-op. */
function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw invalid(where ? `${where}.${key}` : key, obj[key], `unknown field; expected one of ${allowed.join(', ')}`);
  }
}

function memoryBytes(value: unknown, field: string): number | null {
  const bytes = parseBytes(value, field);
  if (bytes !== null && bytes < MEMORY_MIN_BYTES) {
    throw invalid(field, value, `must be at least 6 MiB (${MEMORY_MIN_BYTES} bytes), as Docker requires, or "max" / -1 for unlimited`);
  }
  return bytes;
}

function quota(value: unknown, field: string): number | null {
  const q = value === null || value === 'max' || value === -1 || value === '-1' ? null : parseInteger(value, field);
  if (q !== null && q < CPU_QUOTA_MIN_US) throw invalid(field, value, `must be at least ${CPU_QUOTA_MIN_US} µs (1 ms), or "max" / -1 for none`);
  return q;
}

function period(value: unknown, field: string): number {
  const p = parseInteger(value, field);
  if (p < CPU_PERIOD_MIN_US || p > CPU_PERIOD_MAX_US) throw invalid(field, value, `must be between ${CPU_PERIOD_MIN_US} µs and ${CPU_PERIOD_MAX_US} µs`);
  return p;
}

/**
 * A request parsed and validated into a LimitsChange: memory at least 6 MiB, quota at least
 * 1 ms, period 1 ms..1 s, weight 1..10000 or shares 2..262144 (not both), pids.max "max" or
 * 1..4194304, cpuset lists within the host's online CPUs and memory nodes.
 */
export function parseLimitsInput(input: unknown, host: HostTopology): LimitsChange {
  if (!isObject(input)) throw invalid('limits', input, 'must be an object');
  checkKeys(input, Object.keys(KEYS), '');
  const change: LimitsChange = {};
  for (const group of Object.keys(KEYS)) {
    const v = input[group];
    if (v === undefined) continue;
    if (!isObject(v)) throw invalid(group, v, 'must be an object');
    checkKeys(v, KEYS[group], group);
  }
  const { memory, cpu, pids, cpuset } = input as LimitsInput;

  if (memory) {
    const m: NonNullable<LimitsChange['memory']> = {};
    if (memory.max !== undefined) m.max = memoryBytes(memory.max, 'memory.max');
    if (memory.high !== undefined) m.high = memoryBytes(memory.high, 'memory.high');
    if (memory.swapMax !== undefined) m.swapMax = parseBytes(memory.swapMax, 'memory.swapMax');
    change.memory = m;
  }

  if (cpu) {
    const c: NonNullable<LimitsChange['cpu']> = {};
    if (cpu.max !== undefined) {
      if (cpu.quotaUs !== undefined || cpu.periodUs !== undefined) throw invalid('cpu.max', cpu.max, 'give cpu.max or quotaUs/periodUs, not both');
      if (typeof cpu.max === 'string') {
        const parsed = parseCpuMax(cpu.max);
        c.quotaUs = quota(parsed.quotaUs, 'cpu.max');
        if (parsed.periodUs !== undefined) c.periodUs = period(parsed.periodUs, 'cpu.max');
      } else if (isObject(cpu.max)) {
        checkKeys(cpu.max, ['quotaUs', 'periodUs'], 'cpu.max');
        if (cpu.max.quotaUs !== undefined) c.quotaUs = quota(cpu.max.quotaUs, 'cpu.max.quotaUs');
        if (cpu.max.periodUs !== undefined) c.periodUs = period(cpu.max.periodUs, 'cpu.max.periodUs');
      } else if (cpu.max === null) {
        c.quotaUs = null;
      } else {
        throw invalid('cpu.max', cpu.max, 'must be "QUOTA PERIOD", "max" or {quotaUs, periodUs}');
      }
    }
    if (cpu.quotaUs !== undefined) c.quotaUs = quota(cpu.quotaUs, 'cpu.quotaUs');
    if (cpu.periodUs !== undefined) c.periodUs = period(cpu.periodUs, 'cpu.periodUs');
    if (cpu.weight !== undefined && cpu.shares !== undefined) throw invalid('cpu.weight', cpu.weight, 'give weight or shares, not both');
    if (cpu.weight !== undefined) {
      const w = parseInteger(cpu.weight, 'cpu.weight');
      if (w < CPU_WEIGHT_MIN || w > CPU_WEIGHT_MAX) throw invalid('cpu.weight', cpu.weight, `must be between ${CPU_WEIGHT_MIN} and ${CPU_WEIGHT_MAX}`);
      c.weight = w;
    }
    if (cpu.shares !== undefined) {
      const s = parseInteger(cpu.shares, 'cpu.shares');
      if (s < CPU_SHARES_MIN || s > CPU_SHARES_MAX) throw invalid('cpu.shares', cpu.shares, `must be between ${CPU_SHARES_MIN} and ${CPU_SHARES_MAX}`);
      c.shares = s;
    }
    change.cpu = c;
  }

  if (pids) {
    const p: NonNullable<LimitsChange['pids']> = {};
    if (pids.max !== undefined) {
      const max = parseCount(pids.max, 'pids.max');
      if (max !== null && (max < 1 || max > PIDS_MAX_LIMIT)) throw invalid('pids.max', pids.max, `must be between 1 and ${PIDS_MAX_LIMIT}, or "max" / -1 for unlimited`);
      p.max = max;
    }
    change.pids = p;
  }

  if (cpuset) {
    const s: NonNullable<LimitsChange['cpuset']> = {};
    if (cpuset.cpus !== undefined) {
      if (typeof cpuset.cpus !== 'string') throw invalid('cpuset.cpus', cpuset.cpus, 'must be a list like "0-1,3"');
      s.cpus = validateIdList(cpuset.cpus, host.cpus, 'cpuset.cpus');
    }
    if (cpuset.mems !== undefined) {
      if (typeof cpuset.mems !== 'string') throw invalid('cpuset.mems', cpuset.mems, 'must be a list like "0"');
      s.mems = validateIdList(cpuset.mems, host.mems, 'cpuset.mems');
    }
    change.cpuset = s;
  }
  return change;
}

/**
 * The fields a change moved (their `after` values): what restoring `before` has to write. CPU
 * weight and shares are one setting seen two ways; quota and period are written together.
 */
export function movedFields(before: Limits, after: Limits): LimitsChange {
  const moved: LimitsChange = {};
  const m = before.memory;
  const am = after.memory;
  if (m && am) {
    const memory: NonNullable<LimitsChange['memory']> = {};
    if (m.max !== am.max) memory.max = am.max;
    if (m.high !== am.high) memory.high = am.high;
    if (m.swapMax !== am.swapMax) memory.swapMax = am.swapMax;
    if (Object.keys(memory).length) moved.memory = memory;
  }
  const c = before.cpu;
  const ac = after.cpu;
  if (c && ac) {
    const cpu: NonNullable<LimitsChange['cpu']> = {};
    if (c.quotaUs !== ac.quotaUs || c.periodUs !== ac.periodUs) Object.assign(cpu, { quotaUs: ac.quotaUs, periodUs: ac.periodUs });
    if (c.weight !== ac.weight || c.shares !== ac.shares) Object.assign(cpu, { weight: ac.weight });
    if (Object.keys(cpu).length) moved.cpu = cpu;
  }
  if (before.pids && after.pids && before.pids.max !== after.pids.max) moved.pids = { max: after.pids.max };
  // effectiveCpus/Mems follow from these (and the parent's): nothing to write back
  if (before.cpuset && after.cpuset && (before.cpuset.cpus !== after.cpuset.cpus || before.cpuset.mems !== after.cpuset.mems)) {
    moved.cpuset = { cpus: after.cpuset.cpus, mems: after.cpuset.mems };
  }
  return moved;
}
