import { NsgateError } from '../errors.js';

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

function limitInvalid(field: string, value: unknown, reason: string): NsgateError {
  return new NsgateError('LIMIT_INVALID', `${field}: ${reason}`, { field, value: typeof value === 'string' && value.length > 64 ? `${value.slice(0, 64)}...` : value, reason });
}

/**
 * A size as users write it: a number of bytes, "64M", "1g", "512k", "1.5G", "2GiB", "100b"
 * (binary units, as Docker reads them), or "max" / null / -1 / "-1" for unlimited (null).
 * -1 is Docker's and runc's word for "no limit" (`--memory-swap -1`, `--pids-limit -1`); no
 * other negative number is a size.
 */
export function parseBytes(value: unknown, field = 'size'): number | null {
  if (value === null || value === 'max' || value === -1 || value === '-1') return null;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw limitInvalid(field, value, 'must be a whole number of bytes, "max" or a size like "64M"');
    return value;
  }
  if (typeof value !== 'string') throw limitInvalid(field, value, 'must be a number of bytes, "max" or a size like "64M"');
  const m = /^\s*(\d{1,20}(?:\.\d{1,9})?)\s*([kmgtp]?)(i?b)?\s*$/i.exec(value);
  if (!m) throw limitInvalid(field, value, 'must be a number of bytes, "max" or a size like "64M"');
  if (m[2] === '' && m[3] && m[3].toLowerCase() === 'ib') throw limitInvalid(field, value, 'unknown unit');
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2].toLowerCase()]);
  if (!Number.isSafeInteger(bytes)) throw limitInvalid(field, value, 'too large');
  return bytes;
}

/** A count such as pids.max: a whole number, or "max" / null / -1 for unlimited (null). */
export function parseCount(value: unknown, field = 'count'): number | null {
  if (value === null || value === 'max' || value === -1 || value === '-1') return null;
  const n = typeof value === 'string' && /^\s*\d{1,16}\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw limitInvalid(field, value, 'must be a whole number or "max"');
  return n;
}

/** A plain non-negative integer (weights, shares, microseconds). */
export function parseInteger(value: unknown, field: string): number {
  const n = typeof value === 'string' && /^\s*\d{1,16}\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw limitInvalid(field, value, 'must be a whole number');
  return n;
}

/** v2 cpu.max text ("50000 100000", "max 100000", "max", "25000") as quota (null = none) and period. */
export function parseCpuMax(value: string, field = 'cpu.max'): { quotaUs: number | null; periodUs?: number } {
  const m = /^\s*(max|\d{1,16})(?:\s+(\d{1,16}))?\s*$/.exec(value);
  if (!m) throw limitInvalid(field, value, 'must be "QUOTA PERIOD", "max PERIOD", "max" or "QUOTA" in microseconds');
  return { quotaUs: m[1] === 'max' ? null : Number(m[1]), ...(m[2] !== undefined ? { periodUs: Number(m[2]) } : {}) };
}

/** The v2 cpu.max text for a quota and period. */
export function formatCpuMax(quotaUs: number | null, periodUs: number): string {
  return `${quotaUs === null ? 'max' : quotaUs} ${periodUs}`;
}

/**
 * A kernel-written unsigned number. v1 writes "unlimited" as a huge page-aligned value
 * (9223372036854771712 for memory); anything beyond 2^53 reads as null (unlimited) when
 * `unlimitedAbove` is set, so limits stay exact numbers or null.
 */
export function parseKernelNumber(text: string, options: { unlimitedAbove?: boolean } = {}): number | null {
  const t = text.trim();
  if (t === 'max') return null;
  if (!/^-?\d+$/.test(t)) throw new NsgateError('INTERNAL', `unexpected value from the kernel: ${JSON.stringify(t.slice(0, 40))}`);
  if (t === '-1') return null;
  const n = Number(t);
  if (options.unlimitedAbove && !Number.isSafeInteger(n)) return null;
  return n;
}

/*
 * cpu.shares (v1, 2..262144, default 1024) <-> cpu.weight (v2, 1..10000, default 100).
 * The mapping runc (opencontainers/cgroups ConvertCPUSharesToCgroupV2Value, since 2025) and
 * crun use: a quadratic in log2(shares) through (2, 1), (1024, 100) and (262144, 10000),
 *   weight = ceil(10 ^ ((l^2 + 125 l) / 612 - 7/34)),  l = log2(shares).
 * It keeps the defaults aligned (1024 <-> 100), which the older linear formula did not (1024 -> 39).
 */
export const CPU_SHARES_MIN = 2;
export const CPU_SHARES_MAX = 262144;
export const CPU_SHARES_DEFAULT = 1024;
export const CPU_WEIGHT_MIN = 1;
export const CPU_WEIGHT_MAX = 10000;
export const CPU_WEIGHT_DEFAULT = 100;

export function cpuSharesToWeight(shares: number): number {
  if (shares <= CPU_SHARES_MIN) return CPU_WEIGHT_MIN;
  if (shares >= CPU_SHARES_MAX) return CPU_WEIGHT_MAX;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612 - 7 / 34;
  return Math.min(CPU_WEIGHT_MAX, Math.max(CPU_WEIGHT_MIN, Math.ceil(10 ** exponent)));
}

/**
 * The inverse, for showing a v2 weight as shares and for writing a weight on v1: the largest
 * shares value that still maps to this weight (ceil() makes the forward mapping a step
 * function), so weight 100 gives 1024, 1 gives 2, 10000 gives 262144, and
 * cpuSharesToWeight(cpuWeightToShares(w)) === w for every weight.
 */
export function cpuWeightToShares(weight: number): number {
  if (weight <= CPU_WEIGHT_MIN) return CPU_SHARES_MIN;
  if (weight >= CPU_WEIGHT_MAX) return CPU_SHARES_MAX;
  // Solve l^2 + 125 l - 612 (log10(w) + 7/34) = 0 for l, then step to the exact integer.
  const c = 612 * (Math.log10(weight) + 7 / 34);
  const l = (-125 + Math.sqrt(125 * 125 + 4 * c)) / 2;
  let shares = Math.min(CPU_SHARES_MAX, Math.max(CPU_SHARES_MIN, Math.round(2 ** l)));
  while (shares > CPU_SHARES_MIN && cpuSharesToWeight(shares) > weight) shares--;
  while (shares < CPU_SHARES_MAX && cpuSharesToWeight(shares + 1) <= weight) shares++;
  return shares;
}

/*
 * Memory and swap. The vocabulary's swapMax is swap alone (v2 memory.swap.max); v1 limits
 * memory+swap together (memory.memsw.limit_in_bytes), so:
 *   v1 memsw  = max + swapMax        (null when either is unlimited)
 *   swapMax   = memsw - max          (null when memsw is unlimited; memsw itself when max is)
 */
export function memswFromSwap(max: number | null, swapMax: number | null): number | null {
  if (max === null || swapMax === null) return null;
  return max + swapMax;
}

export function swapFromMemsw(max: number | null, memsw: number | null): number | null {
  if (memsw === null) return null;
  if (max === null) return memsw;
  return Math.max(0, memsw - max);
}

/** Docker refuses memory limits below 6 MiB: the container would not start. */
export const MEMORY_MIN_BYTES = 6 * 1024 * 1024;
/** The kernel's CFS bounds: quota at least 1 ms, period 1 ms .. 1 s. */
export const CPU_QUOTA_MIN_US = 1000;
export const CPU_PERIOD_MIN_US = 1000;
export const CPU_PERIOD_MAX_US = 1_000_000;
export const CPU_PERIOD_DEFAULT_US = 100_000;
/** pids.max must stay below PIDS_MAX = PID_MAX_LIMIT + 1 (4194305). */
export const PIDS_MAX_LIMIT = 4_194_304;
