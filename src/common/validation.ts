import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { NsgateError } from '../kernel/errors.js';

/** class-validator on every body, query and GraphQL argument; unknown fields are refused. */
export function validationPipe(): ValidationPipe {
  return new ValidationPipe({
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
