import { Injectable } from '@nestjs/common';
import { checkPrecondition, limitsVersion } from '../changes/limits-version.js';
import type { ChangeOptions } from '../common/change-options.js';
import type { Limits } from '../kernel/cgroups/driver.js';
import type { LimitWrite } from '../kernel/cgroups/journal.js';
import { parseLimitsInput } from '../kernel/cgroups/limits.js';
import { parentOf, parseCgroupPath } from '../kernel/cgroups/paths.js';
import { type PreflightFinding, preflightLimits } from '../kernel/cgroups/preflight.js';
import { CgroupSystem, type LimitsUpdate } from '../kernel/cgroups/system.js';
import { NsgateError } from '../kernel/errors.js';

import { stagedTargetOf } from '../kernel/cgroups/reclaim.js';
import { type LeaseRef, LeasesService } from '../leases/leases.service.js';

/** How a change is asked for, beside its limits: the same for a single change and a batch item (one declaration, common/change-options.ts). */
export type { ChangeOptions };

/** A cgroup limits change as answered: {before, after} read back from the kernel, plus its version and what was written. */
export interface CgroupChangeAnswer extends LimitsUpdate {
  target: string;
  dryRun: boolean;
  /** The limits version after the change (a dry run: the current one). */
  version: string;
  writes: LimitWrite[];
  /** Dry runs only: what preflight found. */
  findings?: PreflightFinding[];
  /** The lease the change made (ttlSeconds); a dry run: the lease it would make (id null). */
  lease?: LeaseRef;
}

/**
 * One cgroup's limits change, through one pipeline: parse → (lock) read before → check the
 * precondition → plan the writes → write (or, for a dry run, only record them) → read back.
 * The kernel layer does the locked part; this adds the version, the preflight and the way back.
 */
@Injectable()
export class CgroupChanges {
  constructor(
    private readonly system: CgroupSystem,
    private readonly leases: LeasesService,
  ) {}

  /** The limits the kernel holds now, and their version. */
  current(pathInput: string): { values: Limits; version: string } {
    const values = this.system.readLimits(pathInput);
    return { values, version: limitsVersion(values) };
  }

  async apply(pathInput: string, input: unknown, options: ChangeOptions = {}): Promise<CgroupChangeAnswer> {
    const path = parseCgroupPath(pathInput);
    const target = `cgroup:${path}`;
    const precondition = (before: Limits) => checkPrecondition(options.ifVersion, target, { version: limitsVersion(before), values: before });
    // strategy "reclaim" (a memory max below usage reached in stages), decided by the kernel layer in the same locked step
    const kernelOptions = { force: options.force ?? false, precondition, strategy: options.strategy, timeoutMs: options.timeoutMs };
    const fields = cgroupLimitFields(input);
    if (!options.dryRun) {
      if (options.ttlSeconds !== undefined) this.leases.assertRoom();
      const update = await this.system.setLimits(path, input, kernelOptions);
      const answer: CgroupChangeAnswer = { ...update, writes: update.writes ?? [], target, dryRun: false, version: limitsVersion(update.after) };
      const lease = await this.leases.afterChange({ target, fields, requestId: options.requestId ?? 'unknown' }, options.ttlSeconds === undefined ? undefined : {
        kind: 'cgroup', target, fields, ttlSeconds: options.ttlSeconds, requestId: options.requestId ?? 'unknown', before: update.before, after: update.after,
      }).catch(async (err: unknown) => {
        if (options.ttlSeconds === undefined) throw err;
        await this.system.revertLimits(path, update);
        throw new NsgateError('INTERNAL', `the lease could not be kept in the state folder, so the change was put back: ${(err as Error).message}`, { path });
      });
      return lease ? { ...answer, lease: { id: lease.id, expiresAt: lease.expiresAt, fields: lease.fields } } : answer;
    }
    // bad input is an error as for the real change (options too); what the kernel would refuse is a finding
    const change = parseLimitsInput(input, this.system.topology());
    stagedTargetOf(change, kernelOptions);
    const findings = preflightLimits({ path, change, stats: this.system.readStats(path), parentLimits: this.parentLimits(path) });
    let update: LimitsUpdate;
    try {
      update = await this.system.setLimits(path, input, { ...kernelOptions, dryRun: true });
    } catch (err) {
      if (!(err instanceof NsgateError) || err.code === 'PRECONDITION_FAILED' || err.code === 'CGROUP_NOT_FOUND' || err.code === 'CGROUP_NOT_MANAGED') throw err;
      findings.push({ code: 'WOULD_FAIL', severity: 'error', field: String(err.details?.field ?? ''), message: err.message, details: { errorCode: err.code, ...(err.details ?? {}) } });
      const before = this.system.readLimits(path);
      update = { before, after: before, writes: [] };
    }
    const answer: CgroupChangeAnswer = { ...update, writes: update.writes ?? [], target, dryRun: true, version: limitsVersion(update.before), findings };
    return options.ttlSeconds === undefined ? answer : { ...answer, lease: this.leases.wouldMake(fields, options.ttlSeconds) };
  }

  /** Puts back the before values of what a change moved (a batch whose later item failed). */
  async restore(answer: CgroupChangeAnswer): Promise<void> {
    if (answer.dryRun) return;
    await this.system.revertLimits(answer.target.replace(/^cgroup:/, ''), answer);
    // the change is undone: its lease has nothing left to put back
    if (answer.lease?.id) await this.leases.drop(answer.lease.id);
  }

  private parentLimits(path: string): Limits | null {
    if (path === '/') return null;
    try {
      return this.system.readLimits(parentOf(path));
    } catch {
      return null;
    }
  }
}

/**
 * The fields a limits body sets, as leases name them: "memory.max", "cpu.max" (quota and period
 * are one setting), "cpu.weight" (weight and shares are one), "pids.max", "cpuset.cpus".
 */
export function cgroupLimitFields(limits: unknown): string[] {
  const fields = new Set<string>();
  if (!limits || typeof limits !== 'object') return [];
  for (const [group, part] of Object.entries(limits as Record<string, unknown>)) {
    if (!part || typeof part !== 'object') continue;
    for (const [key, value] of Object.entries(part as Record<string, unknown>)) {
      if (value === undefined || value === null) continue;
      if (group === 'cpu' && (key === 'quotaUs' || key === 'periodUs')) fields.add('cpu.max');
      else if (group === 'cpu' && key === 'shares') fields.add('cpu.weight');
      else fields.add(`${group}.${key}`);
    }
  }
  return [...fields].sort();
}
