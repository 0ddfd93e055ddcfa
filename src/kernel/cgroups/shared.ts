import { NsgateError } from '../errors.js';
import { type CgroupDir, type CgroupFiles, kernelErrno } from './files.js';
import { sleep } from './journal.js';
import { type CgroupHierarchy, hierarchyLabel } from './mounts.js';

/**
 * Writes a pid to cgroup.procs. EINVAL right after a fork means the task is still TASK_NEW:
 * retried a few times (as runc does); the kernel's other refusals become nsgate codes.
 */
export async function movePidInto(dir: CgroupDir, pid: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await dir.write('cgroup.procs', String(pid));
      return;
    } catch (err) {
      const errno = kernelErrno(err);
      const where = { path: dir.path, pid, hierarchy: hierarchyLabel(dir.hierarchy), errno };
      if (errno === 'EINVAL' && attempt < 5) {
        await sleep(30);
        continue;
      }
      switch (errno) {
        case 'ESRCH':
          throw new NsgateError('PROCESS_NOT_FOUND', `process ${pid} does not exist`, where);
        case 'EBUSY':
          // v2: a cgroup with controllers enabled for its children may hold no process itself.
          throw new NsgateError('CGROUP_BUSY', `cgroup ${dir.path} cannot take processes: it delegates controllers to child cgroups`, where);
        case 'ENOSPC':
          throw new NsgateError('CGROUP_BUSY', `cgroup ${dir.path} has no CPUs or memory nodes in its cpuset; set them first`, where);
        case 'EINVAL':
          throw new NsgateError('KERNEL_INVALID_ARGUMENT', `the kernel refused to move process ${pid} into ${dir.path}`, where);
        case 'EOPNOTSUPP':
        case 'ENOTSUP': {
          // v2 refuses a process where no resources can be charged: a "domain invalid" cgroup
          // (a domain below a thread root) until it is made threaded.
          const cgroupType = dir.readOptional('cgroup.type')?.trim() ?? null;
          const why =
            cgroupType === 'domain invalid'
              ? 'its cgroup.type is "domain invalid" (a domain cgroup below a thread root), which can hold no process until it is made threaded'
              : `the kernel refuses processes there (cgroup.type ${cgroupType ?? 'unknown'})`;
          throw new NsgateError('CGROUP_BUSY', `cgroup ${dir.path} cannot take process ${pid}: ${why}`, { ...where, cgroupType });
        }
        default:
          throw err;
      }
    }
  }
}

/**
 * rmdir with a few retries on EBUSY: a process that was just killed can linger a moment as a
 * zombie (the same back-off runc uses). Still busy afterwards is CGROUP_NOT_EMPTY.
 */
export async function removeWithRetry(files: CgroupFiles, h: CgroupHierarchy, path: string): Promise<void> {
  let delay = 5;
  for (let attempt = 1; ; attempt++) {
    try {
      await files.rmdir(h, path);
      return;
    } catch (err) {
      if (kernelErrno(err) !== 'EBUSY') throw err;
      if (attempt >= 8) {
        throw new NsgateError('CGROUP_NOT_EMPTY', `cgroup ${path} still has processes or child cgroups in ${hierarchyLabel(h)}`, {
          path,
          hierarchy: hierarchyLabel(h),
          errno: 'EBUSY',
        });
      }
      await sleep(delay);
      delay *= 2;
    }
  }
}
