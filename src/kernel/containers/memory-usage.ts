import type { MemoryStats } from '../cgroups/driver.js';

/*
 * What `docker stats` shows as a container's memory, from the cgroup's own counters.
 *
 * "MEM USAGE" is the cgroup's usage minus its inactive file pages (page cache the kernel would
 * drop first: v1 memory.stat total_inactive_file, v2 inactive_file). That is also cAdvisor's
 * container_memory_working_set_bytes, the number the kubelet evicts on. "LIMIT" is the cgroup's
 * limit, or the machine's memory when that is lower (an unlimited container), and "MEM %" the
 * first over the second.
 */

/** usage − inactive file, never below 0; null without a usage. */
export function workingSetBytes(memory: Pick<MemoryStats, 'usage' | 'inactiveFile'>): number | null {
  if (memory.usage === null) return null;
  return Math.max(0, memory.usage - (memory.inactiveFile ?? 0));
}

/** The limit docker stats divides by: the cgroup's (null = unlimited) or the machine's memory, whichever is lower. */
export function effectiveMemoryLimit(limit: number | null, machineBytes: number): number {
  return limit === null ? machineBytes : Math.min(limit, machineBytes);
}

/** workingSet as a percent of effectiveMemoryLimit (docker's "MEM %"); null when either is unknown. */
export function memoryPercent(workingSet: number | null, limit: number | null, machineBytes: number): number | null {
  if (workingSet === null) return null;
  const divisor = effectiveMemoryLimit(limit, machineBytes);
  return divisor > 0 ? (workingSet / divisor) * 100 : null;
}
