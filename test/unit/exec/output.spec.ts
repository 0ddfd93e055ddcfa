import { describe, expect, it, vi } from 'vitest';
import { CappedOutput } from '../../../src/kernel/exec/output.js';

describe('CappedOutput', () => {
  it('keeps everything below the cap', () => {
    const out = new CappedOutput(10);
    out.push(Buffer.from('hello '));
    out.push(Buffer.from('you'));
    expect(out.toString()).toBe('hello you');
    expect([out.bytes, out.totalBytes, out.truncated]).toEqual([9, 9, false]);
  });

  it('a stream of exactly the cap is not truncated', () => {
    const overflow = vi.fn();
    const out = new CappedOutput(4, overflow);
    out.push(Buffer.from('ab'));
    out.push(Buffer.from('cd'));
    expect([out.toString(), out.truncated]).toEqual(['abcd', false]);
    expect(overflow).not.toHaveBeenCalled();
  });

  it('cuts at the cap, flags truncated and calls onOverflow once however much follows', () => {
    const overflow = vi.fn();
    const out = new CappedOutput(5, overflow);
    out.push(Buffer.from('abc'));
    out.push(Buffer.from('defgh'));
    for (let i = 0; i < 100; i++) out.push(Buffer.alloc(1000, 'y'));
    expect(out.toString()).toBe('abcde');
    expect([out.bytes, out.totalBytes, out.truncated]).toEqual([5, 100_008, true]);
    expect(overflow).toHaveBeenCalledTimes(1);
  });

  it('holds no more memory than the cap: the kept part of a big chunk is a copy, dropped chunks are not referenced', () => {
    const out = new CappedOutput(16);
    const big = Buffer.alloc(1024 * 1024, 'z');
    out.push(big);
    const kept = out.toBuffer();
    expect(kept.length).toBe(16);
    expect(kept.buffer).not.toBe(big.buffer);
    // What the collector holds: its chunk list never sums past the cap.
    const chunks = (out as unknown as { chunks: Buffer[] }).chunks;
    expect(chunks.reduce((n, c) => n + c.buffer.byteLength, 0)).toBeLessThan(64 * 1024);
    for (let i = 0; i < 1000; i++) out.push(Buffer.alloc(64 * 1024));
    expect(chunks).toHaveLength(1);
  });

  it('a cap of 0 keeps nothing and overflows on the first byte', () => {
    const overflow = vi.fn();
    const out = new CappedOutput(0, overflow);
    out.push(Buffer.alloc(0));
    expect(overflow).not.toHaveBeenCalled();
    out.push(Buffer.from('x'));
    expect([out.toString(), out.truncated]).toEqual(['', true]);
    expect(overflow).toHaveBeenCalledTimes(1);
  });

  it('a character cut by the cap becomes U+FFFD, never a crash', () => {
    const out = new CappedOutput(4);
    out.push(Buffer.from('abcé')); // é is two bytes: the cap cuts it
    expect(out.toString()).toBe('abc\uFFFD');
  });
});
