import type { PartitionResult, ScanKind } from './scan-protocol.js';

export interface ScanJob {
  kind: ScanKind;
  procRoot: string;
  passwdPath: string;
}

/** Where scans run: worker threads in production, the calling thread under Vitest. */
export interface ScanRunner {
  readonly mode: 'worker' | 'inline';
  /** One result per partition. */
  run(job: ScanJob): Promise<PartitionResult[]>;
  /** Stops every thread; pending and later runs reject. */
  close(): Promise<void>;
}
