import { NsgateError } from '../errors.js';
import { scanNamespacePartition } from './namespace-partition.js';
import { scanProcessPartition } from './process-partition.js';
import type { PartitionResult, ScanReply, ScanRequest, SerializedError } from './scan-protocol.js';

/** Runs one request synchronously; shared by the worker thread and the in-thread runner. */
export function runScanRequest(request: ScanRequest): PartitionResult {
  const { procRoot, passwdPath, partition } = request;
  switch (request.kind) {
    case 'namespaces':
      return scanNamespacePartition(procRoot, passwdPath, partition);
    case 'processes':
      return scanProcessPartition(procRoot, passwdPath, partition);
  }
}

/** The buffers a result can hand over instead of copying. */
export function transferablesOf(result: PartitionResult): ArrayBuffer[] {
  if (result.kind !== 'namespaces') return [];
  return [result.table.pids.buffer as ArrayBuffer, result.table.slots.buffer as ArrayBuffer];
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof NsgateError) {
    return { name: err.name, message: err.message, code: err.code, details: err.details };
  }
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Error', message: String(err) };
}

export function deserializeError(error: SerializedError): Error {
  if (error.code) {
    return new NsgateError(error.code as NsgateError['code'], error.message, error.details);
  }
  return new NsgateError('INTERNAL', `process scan failed: ${error.message}`);
}

export function replyTo(request: ScanRequest): { reply: ScanReply; transfer: ArrayBuffer[] } {
  try {
    const result = runScanRequest(request);
    return { reply: { id: request.id, ok: true, result }, transfer: transferablesOf(result) };
  } catch (err) {
    return { reply: { id: request.id, ok: false, error: serializeError(err) }, transfer: [] };
  }
}
