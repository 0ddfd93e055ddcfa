import { Injectable, type PipeTransform } from '@nestjs/common';
import { NsgateError } from '../kernel/errors.js';

/** Linux's largest pid_max is 2^22. */
export const MAX_PID = 4_194_304;

export function parsePid(value: unknown): number {
  const text = String(value);
  if (!/^[1-9]\d{0,6}$/.test(text) || Number(text) > MAX_PID) {
    throw new NsgateError('VALIDATION_FAILED', `pid must be an integer from 1 to ${MAX_PID}`, { pid: text.slice(0, 32) });
  }
  return Number(text);
}

/** A {pid} path parameter. */
@Injectable()
export class PidPipe implements PipeTransform<unknown, number> {
  transform(value: unknown): number {
    return parsePid(value);
  }
}
