import type { Limits } from '../cgroups/driver.js';
import type { LimitsInput } from '../cgroups/limits.js';
import { cpuSharesToWeight } from '../cgroups/units.js';
import type { DockerLimits } from '../docker/containers.js';

/**
 * Where the kernel's limits of a container differ from what the engine holds (docker inspect's
 * HostConfig), in the engine's vocabulary: someone wrote a cgroup file by hand, or a runtime
 * did not apply what the engine says. Compared as the kernel stores them: a byte limit is
 * rounded down to a page (8000000 → 7999488 is no drift), CPU shares as the weight they mean
 * (v2 keeps weight only), unlimited is null on both sides.
 */
export interface LimitDrift {
  field: 'memory' | 'memorySwap' | 'nanoCpus' | 'cpuShares' | 'pidsLimit';
  /** What the kernel holds, in the engine's unit; null = unlimited. */
  kernel: number | null;
  /** What the engine holds; null = unlimited / unset. */
  engine: number | null;
}

const PAGE_SIZE = 4096;
/** Docker's CFS period when only --cpus is given. */
const DEFAULT_CPU_PERIOD_US = 100_000;
const DEFAULT_CPU_SHARES = 1024;

const pageFloor = (n: number | null): number | null => (n === null ? null : n - (n % PAGE_SIZE));

export function limitsDrift(kernel: Limits, engine: DockerLimits): LimitDrift[] {
  const drift: LimitDrift[] = [];
  const m = kernel.memory;
  if (m) {
    if (m.max !== pageFloor(engine.memory)) drift.push({ field: 'memory', kernel: m.max, engine: engine.memory });
    // memory+swap as v1 stores it; a null there is unlimited or not accounted (no swap accounting): only a number can be told apart
    const memsw = m.max === null ? m.swapMax : m.swapMax === null ? null : m.max + m.swapMax;
    if (memsw !== null && memsw !== pageFloor(engine.memorySwap)) drift.push({ field: 'memorySwap', kernel: memsw, engine: engine.memorySwap });
  }
  const c = kernel.cpu;
  if (c) {
    const kernelNano = c.quotaUs === null ? null : Math.round((c.quotaUs * 1e9) / c.periodUs);
    const engineNano = engine.nanoCpus ?? (engine.cpuQuota === null ? null : Math.round((engine.cpuQuota * 1e9) / (engine.cpuPeriod ?? DEFAULT_CPU_PERIOD_US)));
    if (kernelNano !== engineNano) drift.push({ field: 'nanoCpus', kernel: kernelNano, engine: engineNano });
    if (c.weight !== cpuSharesToWeight(engine.cpuShares ?? DEFAULT_CPU_SHARES)) drift.push({ field: 'cpuShares', kernel: c.shares, engine: engine.cpuShares });
  }
  if (kernel.pids && kernel.pids.max !== engine.pidsLimit) drift.push({ field: 'pidsLimit', kernel: kernel.pids.max, engine: engine.pidsLimit });
  return drift;
}

/** The kernel write that puts the engine's values back for the drifted fields (reconcile). */
export function engineValuesAsKernelInput(drift: readonly LimitDrift[], engine: DockerLimits): LimitsInput {
  const input: LimitsInput = {};
  const fields = new Set(drift.map((d) => d.field));
  if (fields.has('memory') || fields.has('memorySwap')) {
    input.memory = { max: engine.memory ?? 'max' };
    if (fields.has('memorySwap') || engine.memory === null) {
      input.memory.swapMax = engine.memory === null || engine.memorySwap === null ? 'max' : engine.memorySwap - engine.memory;
    }
  }
  if (fields.has('nanoCpus')) {
    if (engine.nanoCpus !== null) input.cpu = { quotaUs: Math.round((engine.nanoCpus * DEFAULT_CPU_PERIOD_US) / 1e9), periodUs: DEFAULT_CPU_PERIOD_US };
    else if (engine.cpuQuota !== null) input.cpu = { quotaUs: engine.cpuQuota, periodUs: engine.cpuPeriod ?? DEFAULT_CPU_PERIOD_US };
    else input.cpu = { quotaUs: 'max' };
  }
  if (fields.has('cpuShares')) input.cpu = { ...(input.cpu ?? {}), shares: engine.cpuShares ?? DEFAULT_CPU_SHARES };
  if (fields.has('pidsLimit')) input.pids = { max: engine.pidsLimit ?? 'max' };
  return input;
}
