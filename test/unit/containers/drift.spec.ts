import { describe, expect, it } from 'vitest';
import { engineValuesAsKernelInput, limitsDrift } from '../../../src/kernel/containers/drift.js';
import type { Limits } from '../../../src/kernel/cgroups/driver.js';
import type { DockerLimits } from '../../../src/kernel/docker/containers.js';

const engine = (over: Partial<DockerLimits> = {}): DockerLimits => ({
  memory: null,
  memorySwap: null,
  nanoCpus: null,
  cpuShares: null,
  pidsLimit: null,
  cpuQuota: null,
  cpuPeriod: null,
  ...over,
});
const kernel = (over: { memory?: Partial<NonNullable<Limits['memory']>>; cpu?: Partial<NonNullable<Limits['cpu']>>; pids?: number | null } = {}): Limits => ({
  memory: { max: null, high: null, swapMax: null, ...over.memory },
  cpu: { quotaUs: null, periodUs: 100000, weight: 100, shares: 1024, ...over.cpu },
  pids: { max: over.pids ?? null },
});

describe('drift between the kernel and the engine', () => {
  it('none for a container as docker run leaves it, nor for a limit the kernel rounded to a page', () => {
    expect(limitsDrift(kernel(), engine())).toEqual([]);
    expect(limitsDrift(kernel({ memory: { max: 7999488, swapMax: 7999488 } }), engine({ memory: 8000000, memorySwap: 16000000 }))).toEqual([]);
    expect(limitsDrift(kernel({ cpu: { quotaUs: 50000 } }), engine({ nanoCpus: 500_000_000 }))).toEqual([]);
  });

  it("the issue's example: a raw 8000000 the engine does not know", () => {
    expect(limitsDrift(kernel({ memory: { max: 7999488 } }), engine())).toEqual([{ field: 'memory', kernel: 7999488, engine: null }]);
  });

  it('shares as the weight they mean, pids, and a memory+swap limit only when the kernel has a number', () => {
    expect(limitsDrift(kernel({ cpu: { shares: 512, weight: 50 } }), engine())).toEqual([{ field: 'cpuShares', kernel: 512, engine: null }]);
    expect(limitsDrift(kernel({ pids: 50 }), engine())).toEqual([{ field: 'pidsLimit', kernel: 50, engine: null }]);
    // unlimited or not accounted: not told apart, never drift
    expect(limitsDrift(kernel({ memory: { max: 64 << 20, swapMax: null } }), engine({ memory: 64 << 20, memorySwap: 128 << 20 }))).toEqual([]);
    expect(limitsDrift(kernel({ memory: { max: 64 << 20, swapMax: 16 << 20 } }), engine({ memory: 64 << 20, memorySwap: 128 << 20 }))).toEqual([
      { field: 'memorySwap', kernel: 80 << 20, engine: 128 << 20 },
    ]);
  });

  it('reconcile writes the engine values of the drifted fields only', () => {
    const e = engine({ memory: 64 << 20, memorySwap: 128 << 20, pidsLimit: null });
    expect(engineValuesAsKernelInput([{ field: 'memory', kernel: 7999488, engine: 64 << 20 }], e)).toEqual({ memory: { max: 64 << 20 } });
    expect(engineValuesAsKernelInput([{ field: 'memory', kernel: 7999488, engine: null }], engine())).toEqual({ memory: { max: 'max', swapMax: 'max' } });
    expect(engineValuesAsKernelInput([{ field: 'pidsLimit', kernel: 50, engine: null }], e)).toEqual({ pids: { max: 'max' } });
  });
});
