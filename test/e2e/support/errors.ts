import { NsgateError } from '../../../src/kernel/errors.js';

/** The NsgateError a promise rejects with; anything else (a result, another error) fails the test. */
export async function refusal(promise: Promise<unknown>): Promise<NsgateError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof NsgateError) return err;
    throw err;
  }
  throw new Error('expected an NsgateError, got a result');
}
