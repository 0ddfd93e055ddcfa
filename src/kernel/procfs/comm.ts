import { type ProcOptions, procRootOf, readProcText } from './proc-file.js';

/** The kernel's short command name (at most 15 bytes), without its newline. */
export function readProcessComm(pid: number, options?: ProcOptions): string {
  return readProcText(procRootOf(options), pid, 'comm').replace(/\n$/, '');
}
