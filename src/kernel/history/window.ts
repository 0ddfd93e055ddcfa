import { NsgateError } from '../errors.js';
import { COARSE_SLOTS, COARSE_STEP_MS, FINE_SLOTS, FINE_STEP_MS, type Resolution } from './series.js';

/** Answers hold at most this many points. */
export const MAX_POINTS = 1500;
const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

export interface QueryPlan {
  fromMs: number;
  toMs: number;
  stepMs: number;
  resolution: Resolution;
}

/** "90s", "10m", "24h", "5" (seconds) → ms; null when it is not a duration. */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d{1,6})\s*([smh]?)\s*$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * UNITS[m[2] || 's']!;
}

/**
 * `from` (ISO time or a duration back from now; default 10 minutes) and `step` (a duration;
 * default 1 s within the fine ring, else 1 min) as a plan over one ring: the fine ring when the
 * whole range lies in the last ten minutes and the step is under a minute, else the coarse one
 * (the step rounded up to whole minutes). At most 24 hours back, so at most 601 points at
 * 1 s or 1441 at 1 min; MAX_POINTS stays as a check should the rings ever grow.
 */
export function planQuery(input: { from?: string; step?: string }, now: number): QueryPlan {
  let fromMs = now - 10 * 60_000;
  if (input.from !== undefined && input.from !== '') {
    const back = parseDuration(input.from.replace(/^-/, ''));
    const at = back === null ? Date.parse(input.from) : now - back;
    if (!Number.isFinite(at) || (back === null && !/^\d{4}-\d\d-\d\dT/.test(input.from))) {
      throw new NsgateError('VALIDATION_FAILED', 'from must be an ISO 8601 time or a duration such as "10m", "90s", "24h"', { from: input.from });
    }
    fromMs = at;
  }
  fromMs = Math.max(fromMs, now - COARSE_SLOTS * COARSE_STEP_MS);
  if (fromMs > now) throw new NsgateError('VALIDATION_FAILED', 'from is in the future', { from: input.from });
  let stepMs: number | null = null;
  if (input.step !== undefined && input.step !== '') {
    stepMs = parseDuration(input.step);
    if (stepMs === null || stepMs < FINE_STEP_MS || stepMs > COARSE_SLOTS * COARSE_STEP_MS) {
      throw new NsgateError('VALIDATION_FAILED', 'step must be a duration of 1 s to 24 h, such as "5s", "1m"', { step: input.step });
    }
  }
  const inFine = fromMs >= now - FINE_SLOTS * FINE_STEP_MS;
  const resolution: Resolution = inFine && (stepMs === null || stepMs < COARSE_STEP_MS) ? 'fine' : 'coarse';
  // "the last ten minutes" is the ring's 600 seconds, this one included
  if (resolution === 'fine') fromMs = Math.max(fromMs, now - (FINE_SLOTS - 1) * FINE_STEP_MS);
  const unit = resolution === 'fine' ? FINE_STEP_MS : COARSE_STEP_MS;
  stepMs = Math.max(unit, Math.ceil((stepMs ?? unit) / unit) * unit);
  const points = Math.floor(now / unit) - Math.floor(fromMs / unit);
  const count = Math.floor(points / (stepMs / unit)) + 1;
  if (count > MAX_POINTS) {
    const minStep = Math.ceil((points + 1) / MAX_POINTS) * unit;
    throw new NsgateError('VALIDATION_FAILED', `that is ${count} points; at most ${MAX_POINTS}: use a step of at least ${minStep / 1000} s`, {
      points: count,
      maxPoints: MAX_POINTS,
      minStepSeconds: minStep / 1000,
    });
  }
  return { fromMs, toMs: now, stepMs, resolution };
}
