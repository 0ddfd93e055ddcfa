import { ApiExtension } from '@nestjs/swagger';
import type { ErrorCode } from '../kernel/errors.js';
import { ERROR_CODES_EXTENSION } from './openapi-extensions.js';

/**
 * The error codes a route's own work can answer (its service and the kernel layer beneath), beyond
 * those every route of its kind answers, which the document adds by rule (see openapi-document.ts:
 * 401/403/429 from @Allow, 400 from parameters, 413/415 from a body, 503 from @Audit). Each code
 * becomes the status `statusOf` gives it, with the Error schema.
 */
export function ApiErrors(...codes: ErrorCode[]) {
  return ApiExtension(ERROR_CODES_EXTENSION, codes);
}
