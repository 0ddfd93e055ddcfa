import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isErrno } from '../errors.js';
import { type ProcOptions, processDir, processExists, processGone, procRootOf, translateProcError } from './proc-file.js';

/** The LSM labels of a process; null where no LSM answers. */
export interface LsmLabels {
  /** attr/current: the label of the major LSM (SELinux context, or AppArmor profile). */
  current: string | null;
  /** attr/apparmor/current, on kernels with LSM stacking. */
  apparmor: string | null;
}

/**
 * Without an LSM, reading attr/current fails with EINVAL (and EOPNOTSUPP on some kernels),
 * and attr/apparmor does not exist: all of those mean "no label", not an error. ENOENT can
 * also mean the process exited, which the directory check tells apart.
 */
function readAttr(procRoot: string, pid: number, file: string): string | null {
  try {
    const text = readFileSync(join(processDir(procRoot, pid), file), 'utf8');
    return text.replace(/[\0\n]+$/, '') || null;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) {
      if (processExists(procRoot, pid)) return null;
      throw processGone(pid);
    }
    if (isErrno(err, 'EINVAL', 'EOPNOTSUPP')) return null;
    throw translateProcError(err, pid, file);
  }
}

export function readProcessLsmLabels(pid: number, options?: ProcOptions): LsmLabels {
  const procRoot = procRootOf(options);
  return {
    current: readAttr(procRoot, pid, 'attr/current'),
    apparmor: readAttr(procRoot, pid, 'attr/apparmor/current'),
  };
}
