import { applyDecorators } from '@nestjs/common';
import { ApiHeader, ApiQuery } from '@nestjs/swagger';
import { ApiErrors } from '../docs/api-errors.decorator.js';
import { NsgateError } from '../kernel/errors.js';

/** OpenAPI for what every REST limits change takes beside its body. */
export function ApiChangeParams() {
  return applyDecorators(
    ApiHeader({
      name: 'If-Match',
      required: false,
      description: 'the limits version read before (`limitsVersion` of a GET, or the ETag / `version` of a change answer): change only if it is still current, else 412 PRECONDITION_FAILED with the current values and version; `*` = any',
    }),
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description: 'up to 255 printable ASCII characters: the same key with the same body (same caller, same route) within 24 h answers the first answer again (header Idempotent-Replayed: true) without a second write; with another body 422 IDEMPOTENCY_KEY_REUSED. Kept in the state folder across restarts. Dry runs are never kept.',
    }),
    ApiQuery({ name: 'dryRun', required: false, enum: ['true', 'false'], description: 'true: answer the plan (writes, in order, old → new) and the preflight findings; write nothing' }),
    // 412 PRECONDITION_FAILED: details hold the current values and version
    ApiErrors('PRECONDITION_FAILED', 'IDEMPOTENCY_KEY_REUSED'),
  );
}

/** ?dryRun=true|false (absent: false). */
export function parseDryRun(value: unknown): boolean {
  if (value === undefined || value === 'false' || value === false) return false;
  if (value === 'true' || value === true) return true;
  throw new NsgateError('VALIDATION_FAILED', 'dryRun must be true or false', { dryRun: value });
}
