import { closeSync, openSync, readSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { NsgateError, errnoToCode, isErrno } from '../errors.js';

export const DEFAULT_PROC_ROOT = '/proc';

/** Where the readers look; tests point procRoot at a fixture tree. */
export interface ProcOptions {
  procRoot?: string;
}

export function procRootOf(options: ProcOptions | undefined): string {
  return options?.procRoot ?? DEFAULT_PROC_ROOT;
}

/** A pid comes from a URL in the end: refuse anything that is not a plain positive integer. */
export function assertPid(pid: number): void {
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    throw new NsgateError('VALIDATION_FAILED', `not a process id: ${pid}`, { pid });
  }
}

export function processDir(procRoot: string, pid: number): string {
  assertPid(pid);
  return join(procRoot, String(pid));
}

export function processGone(pid: number): NsgateError {
  return new NsgateError('PROCESS_NOT_FOUND', `process ${pid} does not exist`, { pid });
}

/** True while /proc/PID exists: a zombie or kernel thread still has its directory. */
export function processExists(procRoot: string, pid: number): boolean {
  return statSync(processDir(procRoot, pid), { throwIfNoEntry: false }) !== undefined;
}

/**
 * The one place where a read's errno becomes nsgate's vocabulary: a process that exited
 * (ENOENT, ESRCH) is PROCESS_NOT_FOUND, so callers never see a raw errno for it.
 */
export function translateProcError(err: unknown, pid: number, file: string): unknown {
  if (isErrno(err, 'ENOENT', 'ESRCH')) return processGone(pid);
  const code = errnoToCode((err as NodeJS.ErrnoException | undefined)?.code);
  if (code) {
    return new NsgateError(code, `cannot read /proc/${pid}/${file}`, {
      pid,
      errno: (err as NodeJS.ErrnoException).code,
    });
  }
  return err;
}

const READ_CHUNK = 16 * 1024;

/**
 * The whole file. procfs files report size 0, so readFileSync's fstat is a wasted call on
 * every read of a scan; open, read until EOF, close is all it takes.
 */
export function readProcBuffer(procRoot: string, pid: number, file: string): Buffer {
  const path = join(processDir(procRoot, pid), file);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw translateProcError(err, pid, file);
  }
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(READ_CHUNK);
      const n = readSync(fd, chunk, 0, READ_CHUNK, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  } catch (err) {
    throw translateProcError(err, pid, file);
  } finally {
    closeSync(fd);
  }
}

export function readProcText(procRoot: string, pid: number, file: string): string {
  return readProcBuffer(procRoot, pid, file).toString('utf8');
}

export function readProcLink(procRoot: string, pid: number, file: string): string {
  try {
    return readlinkSync(join(processDir(procRoot, pid), file));
  } catch (err) {
    throw translateProcError(err, pid, file);
  }
}

export function statProcessDir(procRoot: string, pid: number): Stats {
  try {
    return statSync(processDir(procRoot, pid));
  } catch (err) {
    throw translateProcError(err, pid, '');
  }
}
