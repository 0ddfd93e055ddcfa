// The public face of the /proc scan: ProcessScanner and the snapshot shapes it returns.
export { ProcessScanner, type ProcessScannerOptions, type SnapshotRequest } from './process-scanner.js';
export type { NamespaceSnapshot, ProcessSnapshot, ScanTiming } from './snapshots.js';
export type { ProcessRecord } from './process-record.js';
export { SharedScan } from './shared-scan.js';
