/**
 * How many refusal lines each client address may put in the audit log: a token bucket per
 * address (perMinute lines, refilled evenly), and a count of the lines it dropped, drained
 * into one counter line per address. At most maxAddresses are tracked; the rest share one bucket.
 */
export class RefusalLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number; dropped: number; since: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly maxAddresses = 4096,
  ) {}

  /** True when a refusal from this address may be logged now; else it is counted as dropped. */
  admit(address: string, now = Date.now()): boolean {
    const key = this.buckets.has(address) || this.buckets.size < this.maxAddresses ? address : OTHERS;
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.perMinute, at: now, dropped: 0, since: now };
      this.buckets.set(key, b);
    }
    b.tokens = this.refilled(b, now);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return true;
    }
    if (b.dropped === 0) b.since = now;
    b.dropped++;
    return false;
  }

  /** What was dropped since the last drain, per address; forgets addresses whose bucket is full again. */
  drain(now = Date.now()): { address: string; dropped: number; since: number }[] {
    const out: { address: string; dropped: number; since: number }[] = [];
    for (const [address, b] of this.buckets) {
      if (b.dropped > 0) out.push({ address, dropped: b.dropped, since: b.since });
      b.dropped = 0;
      if (this.refilled(b, now) >= this.perMinute) this.buckets.delete(address);
    }
    return out;
  }

  /** A bucket's lines at `now`: perMinute a minute, evenly, never more than perMinute. */
  private refilled(b: { tokens: number; at: number }, now: number): number {
    return Math.min(this.perMinute, b.tokens + ((now - b.at) * this.perMinute) / 60_000);
  }
}

/** The shared bucket of addresses beyond maxAddresses. */
export const OTHERS = 'others';
