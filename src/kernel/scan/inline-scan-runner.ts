import { NsgateError } from '../errors.js';
import { deserializeError, replyTo } from './scan-handler.js';
import type { PartitionResult } from './scan-protocol.js';
import type { ScanJob, ScanRunner } from './scan-runner.js';

/**
 * Runs the scan on the calling thread, blocking it for the scan's duration. Only for running
 * from the .ts sources (Vitest), where no compiled worker file exists; it goes through the same
 * request/reply code as the worker so both paths behave alike.
 */
export class InlineScanRunner implements ScanRunner {
  readonly mode = 'inline' as const;
  private closed = false;
  private nextId = 1;

  async run(job: ScanJob): Promise<PartitionResult[]> {
    // Yield first so that callers see the same asynchrony as with a worker.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.closed) throw new NsgateError('INTERNAL', 'process scanner is closed');
    const { reply } = replyTo({ ...job, id: this.nextId++, partition: { index: 0, count: 1 } });
    if (!reply.ok) throw deserializeError(reply.error);
    return [reply.result];
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
