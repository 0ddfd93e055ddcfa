import { parseIdList, rangesWithin } from './cpuset.js';
import type { Limits, LimitsChange, Stats } from './driver.js';
import { parentOf } from './paths.js';

/**
 * What a limits change runs into, found before anything is written: a dry run answers these
 * beside its plan. `error`: the kernel will refuse the change (or the workload will be
 * OOM-killed to honour it); `warning`: it will be applied but may not do what was meant.
 */
export interface PreflightFinding {
  code: 'BELOW_USAGE' | 'BELOW_UNRECLAIMABLE' | 'CPUSET_OUTSIDE_PARENT' | 'PARENT_LIMIT_LOWER' | 'WOULD_FAIL';
  severity: 'error' | 'warning';
  field: string;
  message: string;
  details: Record<string, unknown>;
}

/** What preflight needs to read: the cgroup's usage and its parent's limits (null where the parent is out of reach). */
export interface PreflightInput {
  path: string;
  change: LimitsChange;
  stats: Stats;
  parentLimits: Limits | null;
}

/**
 * What of a cgroup's memory nsgate counts as not reclaimable: usage minus inactive file pages
 * (the working set cAdvisor and the kubelet use; active file pages, slab and swappable anon
 * count as unreclaimable, so it errs towards refusing); all of usage when the kernel does not
 * say. The one measure: the v2 driver refuses a lower memory.max by it, and preflight predicts
 * that refusal with it.
 */
export function unreclaimableMemory(usage: number, inactiveFile: number | null): number {
  return inactiveFile === null ? usage : Math.max(0, usage - inactiveFile);
}

/**
 * Checks a parsed change against what the kernel holds now: memory below usage (the kernel
 * must reclaim) or below what cannot be reclaimed (unreclaimableMemory: it will fail or
 * OOM-kill), a cpuset outside the parent's, a parent limit lower than the one asked for
 * (the parent's then rules). Pure: the caller reads, this decides.
 */
export function preflightLimits({ path, change, stats, parentLimits }: PreflightInput): PreflightFinding[] {
  const findings: PreflightFinding[] = [];
  const parent = parentOf(path);
  const max = change.memory?.max;
  const usage = stats.memory?.usage ?? null;
  if (typeof max === 'number' && usage !== null && max < usage) {
    const inactiveFile = stats.memory?.inactiveFile ?? null;
    const unreclaimable = unreclaimableMemory(usage, inactiveFile);
    if (max < unreclaimable) {
      findings.push({
        code: 'BELOW_UNRECLAIMABLE',
        severity: 'error',
        field: 'memory.max',
        message: `memory.max ${max} is below what the cgroup holds that cannot be reclaimed (${unreclaimable} bytes: usage minus inactive file pages): the kernel will refuse it or OOM-kill`,
        details: { requested: max, usage, unreclaimable, inactiveFile },
      });
    } else {
      findings.push({
        code: 'BELOW_USAGE',
        severity: 'warning',
        field: 'memory.max',
        message: `memory.max ${max} is below the current usage ${usage}: the kernel must reclaim ${usage - max} bytes first (page cache, swap)`,
        details: { requested: max, usage, unreclaimable, inactiveFile },
      });
    }
  }
  if (!parentLimits) return findings;
  const lower = (field: string, requested: number | null | undefined, parentValue: number | null | undefined) => {
    if (requested === undefined || parentValue === null || parentValue === undefined) return;
    if (requested === null || requested > parentValue) {
      findings.push({
        code: 'PARENT_LIMIT_LOWER',
        severity: 'warning',
        field,
        message: `the parent ${parent} has ${field} ${parentValue}, lower than the ${requested ?? 'max'} asked for: the parent's limit rules`,
        details: { requested, parent, parentValue },
      });
    }
  };
  lower('memory.max', max, parentLimits.memory?.max);
  lower('pids.max', change.pids?.max, parentLimits.pids?.max);
  const quota = change.cpu?.quotaUs;
  const pcpu = parentLimits.cpu;
  if (quota !== undefined && pcpu && pcpu.quotaUs !== null) {
    const period = change.cpu?.periodUs ?? pcpu.periodUs;
    const wanted = quota === null ? null : quota / period;
    const allowed = pcpu.quotaUs / pcpu.periodUs;
    if (wanted === null || wanted > allowed) {
      findings.push({
        code: 'PARENT_LIMIT_LOWER',
        severity: 'warning',
        field: 'cpu.max',
        message: `the parent ${parent} allows ${allowed.toFixed(2)} CPUs, fewer than the ${wanted === null ? 'unlimited' : wanted.toFixed(2)} asked for: the parent's limit rules`,
        details: { requested: { quotaUs: quota, periodUs: period }, parent, parentValue: { quotaUs: pcpu.quotaUs, periodUs: pcpu.periodUs } },
      });
    }
  }
  for (const key of ['cpus', 'mems'] as const) {
    const wanted = change.cpuset?.[key];
    const allowed = parentLimits.cpuset?.[key];
    if (!wanted || !allowed) continue;
    if (!rangesWithin(parseIdList(wanted, `cpuset.${key}`), parseIdList(allowed, `cpuset.${key}`))) {
      findings.push({
        code: 'CPUSET_OUTSIDE_PARENT',
        severity: 'error',
        field: `cpuset.${key}`,
        message: `cpuset.${key} ${wanted} is not within the parent's ${allowed} (${parent}): the kernel refuses it`,
        details: { requested: wanted, parent, parentValue: allowed },
      });
    }
  }
  return findings;
}
