import { Injectable } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { AuditService } from '../audit/audit.service.js';
import { type CgroupChangeAnswer, CgroupChanges } from '../cgroups/cgroup-changes.js';
import { toNsgateError } from '../common/errors.js';
import { type ContainerChangeAnswer, ContainerChanges } from '../containers/container-changes.js';
import { ContainerLimitsBody } from '../containers/dto/container.dto.js';
import { parseCgroupPath } from '../kernel/cgroups/paths.js';
import { NsgateError } from '../kernel/errors.js';
import { parseIfMatch } from './limits-version.js';

/** One change of a batch, whichever transport it came from. */
export interface BatchItem {
  kind: 'cgroup' | 'container';
  /** The cgroup path or the container's id / name, as given. */
  ref: string;
  /** In the single route's own vocabulary. */
  limits: unknown;
  ifVersion?: string;
  force?: boolean;
}

export interface ChangeItemResult {
  index: number;
  target: string;
  cgroup?: CgroupChangeAnswer;
  container?: ContainerChangeAnswer;
  error?: { code: string; message: string; details: Record<string, unknown> | null };
}

export interface ChangesResult {
  dryRun: boolean;
  wouldApply: boolean;
  items: ChangeItemResult[];
}

type Answer = CgroupChangeAnswer | ContainerChangeAnswer;

/**
 * Batches: many cgroup and container limit changes as one, all or nothing. Each item goes
 * through its single route's pipeline (CgroupChanges, ContainerChanges). A real batch first
 * plans every item (a dry run: bad input, a missing target or a moved version refuses the whole
 * batch before anything is written), then applies them in order and, when one fails, restores
 * the ones applied before it, newest first. A container limit the engine cannot unset once set
 * (memory, cpus or shares that were unset) cannot be restored: such an item runs last, and a
 * batch may hold only one. Other writers are not locked out between items.
 */
@Injectable()
export class ChangesService {
  constructor(
    private readonly cgroups: CgroupChanges,
    private readonly containers: ContainerChanges,
    audit: AuditService,
  ) {
    // the way back for a batch whose completed audit line cannot be written
    audit.registerReverter('changes.apply', (response) => this.restore((response as ChangesResult).items.map((i) => (i.cgroup ?? i.container)!)));
  }

  async apply(items: BatchItem[], dryRun: boolean): Promise<ChangesResult> {
    await this.refuseDuplicates(items);
    const planned: ChangeItemResult[] = [];
    for (const [index, item] of items.entries()) {
      try {
        planned.push(this.result(index, item, await this.one(item, true)));
      } catch (err) {
        if (!dryRun) throw itemError(err, index, item, 'would fail', [], []);
        const e = toNsgateError(err);
        planned.push({ index, target: targetOf(item), error: { code: e.code, message: e.message, details: e.details ?? null } });
      }
    }
    if (dryRun) {
      const wouldApply = planned.every((p) => !p.error && !(p.cgroup ?? p.container)!.findings?.some((f) => f.severity === 'error'));
      return { dryRun: true, wouldApply, items: planned };
    }

    const lasting = planned.filter((p) => p.container && !ContainerChanges.restorable(p.container));
    if (lasting.length > 1) {
      throw new NsgateError(
        'CONFLICT',
        `changes ${lasting.map((p) => p.index).join(', ')} set container limits the engine cannot unset again (memory, cpus or shares that were unset), so the batch could not be undone if it failed; send at most one such change per batch`,
        { items: lasting.map((p) => ({ index: p.index, target: p.target, fields: p.container!.writes.filter((w) => w.from === null).map((w) => w.field) })) },
      );
    }
    const order = [...planned.filter((p) => !lasting.includes(p)), ...lasting].map((p) => p.index);
    const applied: { index: number; answer: Answer }[] = [];
    for (const index of order) {
      const item = items[index]!;
      try {
        applied.push({ index, answer: await this.one(item, false) });
      } catch (err) {
        const restored: string[] = [];
        const notRestored: { target: string; error: string }[] = [];
        for (const done of [...applied].reverse()) {
          try {
            await this.restoreOne(done.answer);
            restored.push(done.answer.target);
          } catch (restoreErr) {
            notRestored.push({ target: done.answer.target, error: toNsgateError(restoreErr).message });
          }
        }
        throw itemError(err, index, item, 'failed', restored, notRestored);
      }
    }
    const results = applied.sort((a, b) => a.index - b.index).map(({ index, answer }) => this.result(index, items[index]!, answer));
    return { dryRun: false, wouldApply: true, items: results };
  }

  /** Restores applied answers, newest first (the audit reverter). */
  async restore(answers: Answer[]): Promise<void> {
    for (const answer of [...answers].reverse()) await this.restoreOne(answer);
  }

  private restoreOne(answer: Answer): Promise<void> {
    return 'engineBefore' in answer ? this.containers.restore(answer) : this.cgroups.restore(answer);
  }

  private one(item: BatchItem, dryRun: boolean): Promise<Answer> {
    const ifVersion = parseIfMatch(item.ifVersion);
    if (item.kind === 'cgroup') return this.cgroups.apply(item.ref, item.limits, { dryRun, ifVersion, force: item.force ?? false });
    if (item.force !== undefined) throw new NsgateError('VALIDATION_FAILED', 'force is for cgroup changes only', { field: 'force' });
    return this.containers.apply(item.ref, containerBody(item.limits), { dryRun, ifVersion });
  }

  private result(index: number, item: BatchItem, answer: Answer): ChangeItemResult {
    return item.kind === 'cgroup' ? { index, target: answer.target, cgroup: answer as CgroupChangeAnswer } : { index, target: answer.target, container: answer as ContainerChangeAnswer };
  }

  /** Two changes to one target would make "before" and the way back ambiguous. */
  private async refuseDuplicates(items: BatchItem[]): Promise<void> {
    const seen = new Map<string, number>();
    for (const [index, item] of items.entries()) {
      let key: string;
      try {
        key = item.kind === 'cgroup' ? `cgroup:${parseCgroupPath(item.ref)}` : `container:${await this.containers.resolveId(item.ref)}`;
      } catch {
        continue; // the plan reports it, with its index
      }
      const first = seen.get(key);
      if (first !== undefined) {
        throw new NsgateError('VALIDATION_FAILED', `changes ${first} and ${index} name the same ${item.kind}; merge them into one`, { items: [first, index], target: key });
      }
      seen.set(key, index);
    }
  }
}

function targetOf(item: BatchItem): string {
  return `${item.kind}:${item.ref}`;
}

/** A container item's limits, checked as the single route's body is. */
function containerBody(limits: unknown): ContainerLimitsBody {
  if (limits instanceof ContainerLimitsBody) return limits;
  const body = plainToInstance(ContainerLimitsBody, limits);
  const errors = validateSync(body, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length) {
    throw new NsgateError('VALIDATION_FAILED', errors.flatMap((e) => Object.values(e.constraints ?? {})).join('; ') || 'invalid container limits', {
      fields: errors.map((e) => e.property),
    });
  }
  return body;
}

/** Which item failed and why, keeping its code (so its status) and saying what was put back. */
function itemError(err: unknown, index: number, item: BatchItem, how: 'would fail' | 'failed', restored: string[], notRestored: { target: string; error: string }[]): NsgateError {
  const e = toNsgateError(err);
  const undone =
    how === 'would fail'
      ? 'nothing was changed'
      : notRestored.length
        ? `${restored.length} applied change(s) were restored, ${notRestored.length} could not be`
        : restored.length
          ? `the ${restored.length} change(s) applied before it were restored`
          : 'nothing had been changed';
  return new NsgateError(e.code, `change ${index} (${targetOf(item)}) ${how}: ${e.message}; ${undone}`, {
    failed: { index, target: targetOf(item), code: e.code, message: e.message, details: e.details ?? null },
    restored,
    notRestored,
  });
}
