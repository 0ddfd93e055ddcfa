import { describe, expect, it } from 'vitest';
import { KeyedMutex } from '../../../src/kernel/cgroups/index.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('KeyedMutex', () => {
  it('runs work on one key one at a time, in order, and different keys side by side', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const job = (key: string, name: string, ms: number) =>
      m.run(key, async () => {
        log.push(`${name}+`);
        await tick(ms);
        log.push(`${name}-`);
        return name;
      });
    const results = await Promise.all([job('/a', 'a1', 30), job('/a', 'a2', 5), job('/b', 'b1', 5), job('/a', 'a3', 1)]);
    expect(results).toEqual(['a1', 'a2', 'b1', 'a3']);
    const a = log.filter((l) => l.startsWith('a'));
    expect(a).toEqual(['a1+', 'a1-', 'a2+', 'a2-', 'a3+', 'a3-']);
    // b1 started while a1 was still running.
    expect(log.indexOf('b1+')).toBeLessThan(log.indexOf('a1-'));
    expect(m.size).toBe(0);
  });

  it('a failing job releases the key', async () => {
    const m = new KeyedMutex();
    await expect(m.run('/a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await m.run('/a', async () => 'next')).toBe('next');
    expect(m.size).toBe(0);
  });
});
