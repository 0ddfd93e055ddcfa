import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ProcOptions, procRootOf } from './proc-file.js';

/** MemTotal of `${procRoot}/meminfo` in bytes: what the engine (and cAdvisor's machine_memory_bytes) call the machine's memory. */
export function readMemTotalBytes(options?: ProcOptions): number {
  const text = readFileSync(join(procRootOf(options), 'meminfo'), 'utf8');
  const match = /^MemTotal:\s+(\d+)\s+kB$/m.exec(text);
  if (!match) throw new Error(`no MemTotal line in ${join(procRootOf(options), 'meminfo')}`);
  return Number(match[1]) * 1024;
}
