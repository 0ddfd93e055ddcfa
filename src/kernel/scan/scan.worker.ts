// The worker thread of ProcessScanner: synchronous /proc reads, one request at a time, off the
// main event loop. Loaded from the compiled dist/kernel/scan/scan.worker.js.
import { parentPort } from 'node:worker_threads';
import { replyTo } from './scan-handler.js';
import type { ScanRequest } from './scan-protocol.js';

if (!parentPort) throw new Error('scan.worker must run as a worker thread');
const port = parentPort;

port.on('message', (request: ScanRequest) => {
  const { reply, transfer } = replyTo(request);
  port.postMessage(reply, transfer);
});
