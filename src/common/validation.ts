import { type ArgumentMetadata, ValidationPipe, type ValidationError } from '@nestjs/common';
import { NsgateError } from '../kernel/errors.js';

/**
 * Nest's pipe converts a primitive parameter by its TypeScript type (Number('0x10') is 16,
 * Number('1e3') is 1000): a path parameter must reach its own pipe as the text sent.
 */
class StrictValidationPipe extends ValidationPipe {
  protected override transformPrimitive(value: unknown, _metadata: ArgumentMetadata): unknown {
    return value;
  }
}

/** class-validator on every body, query and GraphQL argument; unknown fields are refused. */
export function validationPipe(): ValidationPipe {
  return new StrictValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    stopAtFirstError: false,
    exceptionFactory: (errors: ValidationError[]) =>
      new NsgateError('VALIDATION_FAILED', describe(errors), { fields: flatten(errors) }),
  });
}

function flatten(errors: ValidationError[], prefix = ''): { field: string; problems: string[] }[] {
  return errors.flatMap((e) => {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    const own = e.constraints ? [{ field, problems: Object.values(e.constraints) }] : [];
    return [...own, ...flatten(e.children ?? [], field)];
  });
}

function describe(errors: ValidationError[]): string {
  const all = flatten(errors);
  return all.length === 0 ? 'invalid input' : all.map((f) => f.problems.join('; ')).join('; ');
}
