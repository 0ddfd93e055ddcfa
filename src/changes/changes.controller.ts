import { Body, Controller, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Audit } from '../audit/audit.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import { ApiChangeParams, parseDryRun } from './change-params.js';
import { ChangeRoute } from './change.interceptor.js';
import { batchAuditTarget, batchOutcome, checkItemTargets } from './changes.audit.js';
import { ChangesResultModel } from './changes.models.js';
import { type ChangesResult, ChangesService } from './changes.service.js';
import { ChangesBody, MAX_BATCH_CHANGES } from './dto/changes.input.js';

@ApiTags('changes')
@Controller('v1/changes')
export class ChangesController {
  constructor(private readonly changes: ChangesService) {}

  @Post()
  @HttpCode(200)
  @Allow('operator')
  @Audit('changes.apply', batchAuditTarget, undefined, batchOutcome)
  @ChangeRoute()
  @ApiOperation({
    summary: `Many cgroup and container limit changes as one, all or nothing (at most ${MAX_BATCH_CHANGES})`,
    description:
      'Every item is planned first (bad input, a missing target or a moved ifVersion refuses the batch with nothing written), then applied in order; ' +
      'when one fails, the ones applied before it are restored and the answer (with the failing item\'s code and status) names it in details.failed. ' +
      'Each item\'s limits are in its single route\'s vocabulary. ?dryRun=true plans and preflights every item; Idempotency-Key replays the first answer. ' +
      'A container limit the engine cannot unset once set (memory, cpus or shares that were unset) runs last, one per batch. Audited as one line (changes.apply) with every item.',
  })
  @ApiChangeParams()
  @ApiBody({ type: ChangesBody })
  @ApiOkResponse({ type: ChangesResultModel })
  apply(@Body() body: ChangesBody, @Query('dryRun') dryRun?: string): Promise<ChangesResult> {
    checkItemTargets(body.changes);
    return this.changes.apply(
      body.changes.map((c) => ({ kind: c.container !== undefined ? 'container' : 'cgroup', ref: (c.container ?? c.cgroup)!, limits: c.limits, ifVersion: c.ifVersion, force: c.force })),
      parseDryRun(dryRun),
    );
  }
}
