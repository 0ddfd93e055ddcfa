import { Args, Mutation, Resolver } from '@nestjs/graphql';
import { Audit } from '../audit/audit.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import { stripNulls } from '../cgroups/cgroups.resolver.js';
import { NsgateError } from '../kernel/errors.js';
import { ChangeRoute } from './change.interceptor.js';
import { batchAuditTarget, batchOutcome, checkItemTargets } from './changes.audit.js';
import { ChangesResultModel } from './changes.models.js';
import { type BatchItem, type ChangesResult, ChangesService } from './changes.service.js';
import { ApplyChangesArgs, MAX_BATCH_CHANGES } from './dto/changes.input.js';

@Resolver()
export class ChangesResolver {
  constructor(private readonly changes: ChangesService) {}

  @Mutation(() => ChangesResultModel, {
    description:
      `Many cgroup and container limit changes as one (at most ${MAX_BATCH_CHANGES}), all or nothing: every item is planned first, then applied in order; ` +
      'when one fails the ones before it are restored and the error (its code, extensions.details.failed) names it. dryRun plans only; idempotencyKey replays the first answer.',
  })
  @Allow('operator')
  @Audit('changes.apply', batchAuditTarget, undefined, batchOutcome)
  @ChangeRoute()
  applyChanges(@Args() args: ApplyChangesArgs): Promise<ChangesResult> {
    checkItemTargets(args.changes);
    const items: BatchItem[] = args.changes.map((c, index) => {
      const cgroup = c.cgroup !== undefined && c.cgroup !== null;
      const wrong = cgroup ? c.containerLimits : c.cgroupLimits;
      const limits = cgroup ? c.cgroupLimits : c.containerLimits;
      if ((wrong !== undefined && wrong !== null) || limits === undefined || limits === null) {
        throw new NsgateError('VALIDATION_FAILED', `change ${index}: a ${cgroup ? 'cgroup takes cgroupLimits' : 'container takes containerLimits'}`, { index });
      }
      return {
        kind: cgroup ? 'cgroup' : 'container',
        ref: (cgroup ? c.cgroup : c.container)!,
        limits: cgroup ? stripNulls(limits) : limits,
        ifVersion: c.ifVersion ?? undefined,
        force: c.force ?? undefined,
      };
    });
    return this.changes.apply(items, args.dryRun ?? false);
  }
}
