import { Injectable, type PipeTransform } from '@nestjs/common';
import { NsgateError } from '../kernel/errors.js';

/** A namespace inode: a positive integer below 2^53 (the kernel's are 32-bit today). */
@Injectable()
export class InodePipe implements PipeTransform<unknown, number> {
  transform(value: unknown): number {
    const text = String(value);
    if (!/^[1-9]\d{0,15}$/.test(text) || !Number.isSafeInteger(Number(text))) {
      throw new NsgateError('VALIDATION_FAILED', 'inode must be a positive decimal integer', { inode: text.slice(0, 32) });
    }
    return Number(text);
  }
}
