import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PROC_ROOT } from '../procfs/proc-file.js';
import { DEFAULT_PASSWD_PATH } from '../procfs/user-names.js';
import { InlineScanRunner } from './inline-scan-runner.js';
import type { ScanKind } from './scan-protocol.js';
import type { ScanRunner } from './scan-runner.js';
import { SharedScan } from './shared-scan.js';
import {
  type NamespaceSnapshot,
  type ProcessSnapshot,
  type ScanTiming,
  mergeNamespacePartitions,
  mergeProcessPartitions,
} from './snapshots.js';
import { WorkerScanRunner } from './worker-scan-runner.js';

export interface ProcessScannerOptions {
  procRoot?: string;
  passwdPath?: string;
  /**
   * 'worker' runs scans on worker threads; 'inline' on the calling thread (blocks it: only for
   * tests); 'auto' (default) is 'worker' except when running from the .ts sources without a
   * compiled worker beside them (Vitest), where it is 'inline'.
   */
  mode?: 'auto' | 'worker' | 'inline';
  /** Worker threads a scan is split across; default min(2, available cores). */
  workers?: number;
  /** A worker thread exits after this many ms without a scan; the next scan starts it again (default 60 s). */
  workerIdleMs?: number;
}

export interface SnapshotRequest {
  /** Accept a snapshot whose scan started at most this long ago instead of a new scan. */
  maxAgeMs?: number;
}

const WORKER_URL = new URL('./scan.worker.js', import.meta.url);

function chooseMode(mode: ProcessScannerOptions['mode']): 'worker' | 'inline' {
  if (mode === 'worker' || mode === 'inline') return mode;
  const fromSources = import.meta.url.endsWith('.ts');
  return fromSources && !existsSync(fileURLToPath(WORKER_URL)) ? 'inline' : 'worker';
}

/**
 * Scans of /proc for the process list and the namespace inventory, off the event loop, shared
 * between concurrent callers (see SharedScan for the freshness rule). One per application;
 * close() it on shutdown.
 */
export class ProcessScanner {
  readonly procRoot: string;
  readonly passwdPath: string;
  private readonly runner: ScanRunner;
  private readonly namespaceScan: SharedScan<NamespaceSnapshot>;
  private readonly processScan: SharedScan<ProcessSnapshot>;

  constructor(options: ProcessScannerOptions = {}) {
    this.procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
    this.passwdPath = options.passwdPath ?? DEFAULT_PASSWD_PATH;
    const workers = options.workers ?? Math.min(2, availableParallelism());
    this.runner =
      chooseMode(options.mode) === 'worker' ? new WorkerScanRunner(WORKER_URL, workers, options.workerIdleMs) : new InlineScanRunner();
    this.namespaceScan = new SharedScan(() => this.scan('namespaces', mergeNamespacePartitions));
    this.processScan = new SharedScan(() => this.scan('processes', mergeProcessPartitions));
  }

  get mode(): 'worker' | 'inline' {
    return this.runner.mode;
  }

  /** The lsns inventory and memberships, no older than the call unless maxAgeMs allows. */
  namespaces(request: SnapshotRequest = {}): Promise<NamespaceSnapshot> {
    return this.namespaceScan.get(request.maxAgeMs);
  }

  /** Every process with its stat, status, cmdline, ns links and cgroups. */
  processes(request: SnapshotRequest = {}): Promise<ProcessSnapshot> {
    return this.processScan.get(request.maxAgeMs);
  }

  /** Terminates the worker threads; scans in flight and later calls reject. */
  close(): Promise<void> {
    return this.runner.close();
  }

  private async scan<T>(
    kind: ScanKind,
    merge: (parts: Awaited<ReturnType<ScanRunner['run']>>, timing: ScanTiming) => T,
  ): Promise<T> {
    const startedAt = Date.now();
    const parts = await this.runner.run({ kind, procRoot: this.procRoot, passwdPath: this.passwdPath });
    return merge(parts, { startedAt, finishedAt: Date.now() });
  }
}
