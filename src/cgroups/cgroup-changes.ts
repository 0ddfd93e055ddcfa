import { Injectable } from '@nestjs/common';
import { checkPrecondition, limitsVersion } from '../changes/limits-version.js';
import type { Limits } from '../kernel/cgroups/driver.js';
import type { LimitWrite } from '../kernel/cgroups/journal.js';
import { parseLimitsInput } from '../kernel/cgroups/limits.js';
import { parentOf, parseCgroupPath } from '../kernel/cgroups/paths.js';
import { type PreflightFinding, preflightLimits } from '../kernel/cgroups/preflight.js';
import { CgroupSystem, type LimitsUpdate } from '../kernel/cgroups/system.js';
import { NsgateError } from '../kernel/errors.js';

/** How a change is asked for, beside its limits: the same for a single change and a batch item. */
export interface ChangeOptions {
  /** The versions the caller read (If-Match / ifVersion); '*' = any; undefined = no precondition. */
  ifVersion?: string[] | '*';
  /** Plan and preflight only: nothing is written. */
  dryRun?: boolean;
  /** v2: allow memory.max below usage. */
  force?: boolean;
}

/** A cgroup limits change as answered: {before, after} read back from the kernel, plus its version and what was written. */
export interface CgroupChangeAnswer extends LimitsUpdate {
  target: string;
  dryRun: boolean;
  /** The limits version after the change (a dry run: the current one). */
  version: string;
  writes: LimitWrite[];
  /** Dry runs only: what preflight found. */
  findings?: PreflightFinding[];
}

/**
 * One cgroup's limits change, through one pipeline: parse → (lock) read before → check the
 * precondition → plan the writes → write (or, for a dry run, only record them) → read back.
 * The kernel layer does the locked part; this adds the version, the preflight and the way back.
 */
@Injectable()
export class CgroupChanges {
  constructor(private readonly system: CgroupSystem) {}

  /** The limits the kernel holds now, and their version. */
  current(pathInput: string): { values: Limits; version: string } {
    const values = this.system.readLimits(pathInput);
    return { values, version: limitsVersion(values) };
  }

  async apply(pathInput: string, input: unknown, options: ChangeOptions = {}): Promise<CgroupChangeAnswer> {
    const path = parseCgroupPath(pathInput);
    const target = `cgroup:${path}`;
    const precondition = (before: Limits) => checkPrecondition(options.ifVersion, target, { version: limitsVersion(before), values: before });
    if (!options.dryRun) {
      const update = await this.system.setLimits(path, input, { force: options.force ?? false, precondition });
      return { ...update, writes: update.writes ?? [], target, dryRun: false, version: limitsVersion(update.after) };
    }
    // bad input is an error as for the real change; what the kernel would refuse is a finding
    const change = parseLimitsInput(input, this.system.topology());
    const findings = preflightLimits({ path, change, stats: this.system.readStats(path), parentLimits: this.parentLimits(path) });
    let update: LimitsUpdate;
    try {
      update = await this.system.setLimits(path, input, { force: options.force ?? false, precondition, dryRun: true });
    } catch (err) {
      if (!(err instanceof NsgateError) || err.code === 'PRECONDITION_FAILED' || err.code === 'CGROUP_NOT_FOUND' || err.code === 'CGROUP_NOT_MANAGED') throw err;
      findings.push({ code: 'WOULD_FAIL', severity: 'error', field: String(err.details?.field ?? ''), message: err.message, details: { errorCode: err.code, ...(err.details ?? {}) } });
      const before = this.system.readLimits(path);
      update = { before, after: before, writes: [] };
    }
    return { ...update, writes: update.writes ?? [], target, dryRun: true, version: limitsVersion(update.before), findings };
  }

  /** Puts back the before values of what a change moved (a batch whose later item failed). */
  async restore(answer: CgroupChangeAnswer): Promise<void> {
    if (answer.dryRun) return;
    await this.system.revertLimits(answer.target.replace(/^cgroup:/, ''), answer);
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
