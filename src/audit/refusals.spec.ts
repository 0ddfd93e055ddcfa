import { describe, expect, it } from 'vitest';
import { OTHERS, RefusalLimiter } from './refusals.js';

describe('RefusalLimiter', () => {
  it('admits perMinute lines per address, refills evenly, and counts what it dropped', () => {
    const limiter = new RefusalLimiter(60);
    const t0 = 1_000_000;
    const admitted = Array.from({ length: 100 }, () => limiter.admit('10.0.0.1', t0)).filter(Boolean).length;
    expect(admitted).toBe(60);
    expect(limiter.admit('10.0.0.2', t0)).toBe(true); // another address has its own share
    expect(limiter.admit('10.0.0.1', t0 + 1000)).toBe(true); // one line a second comes back
    expect(limiter.admit('10.0.0.1', t0 + 1000)).toBe(false);
    expect(limiter.drain(t0 + 1000)).toEqual([{ address: '10.0.0.1', dropped: 41, since: t0 }]);
    expect(limiter.drain(t0 + 2000)).toEqual([]);
  });

  it('tracks a bounded number of addresses; the rest share one bucket', () => {
    const limiter = new RefusalLimiter(2, 3);
    for (const a of ['a', 'b', 'c']) limiter.admit(a, 0);
    expect([limiter.admit('d', 0), limiter.admit('e', 0), limiter.admit('f', 0)]).toEqual([true, true, false]);
    expect(limiter.drain(0)).toContainEqual({ address: OTHERS, dropped: 1, since: 0 });
  });
});
