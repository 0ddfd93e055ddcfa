import { describe, expect, it } from 'vitest';
import { effectiveMemoryLimit, memoryPercent, workingSetBytes } from '../../../src/kernel/containers/memory-usage.js';

const GiB = 1024 ** 3;

describe("docker stats' memory numbers", () => {
  it('MEM USAGE is usage minus inactive file, never below zero', () => {
    expect(workingSetBytes({ usage: 10_000_000, inactiveFile: 4_000_000 })).toBe(6_000_000);
    expect(workingSetBytes({ usage: 10_000_000, inactiveFile: null })).toBe(10_000_000);
    expect(workingSetBytes({ usage: 1000, inactiveFile: 4096 })).toBe(0);
    expect(workingSetBytes({ usage: null, inactiveFile: 4096 })).toBeNull();
  });

  it("LIMIT is the cgroup's, or the machine's memory when unlimited or higher", () => {
    expect(effectiveMemoryLimit(64 * 1024 * 1024, 24 * GiB)).toBe(64 * 1024 * 1024);
    expect(effectiveMemoryLimit(null, 24 * GiB)).toBe(24 * GiB);
    expect(effectiveMemoryLimit(100 * GiB, 24 * GiB)).toBe(24 * GiB);
  });

  it('MEM % is the working set over that limit', () => {
    expect(memoryPercent(16 * 1024 * 1024, 64 * 1024 * 1024, 24 * GiB)).toBe(25);
    expect(memoryPercent(6 * GiB, null, 24 * GiB)).toBe(25);
    expect(memoryPercent(null, null, 24 * GiB)).toBeNull();
    expect(memoryPercent(1, null, 0)).toBeNull();
  });
});
