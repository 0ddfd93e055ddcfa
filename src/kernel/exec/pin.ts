import { NsgateError } from '../errors.js';
import { type NamespaceInodes, readNamespaceInodes } from '../procfs/namespace-links.js';
import { NAMESPACE_TYPES, type NamespaceType } from '../procfs/namespace-types.js';
import { procRootOf, type ProcOptions } from '../procfs/proc-file.js';
import { isKernelThread, readProcessStat } from '../procfs/stat.js';

/**
 * A process named by pid and start time: the pair the kernel never gives to two processes.
 * The exec helper enters the target only if the process it holds (a pidfd) still has this
 * start time, so a pid that was reused in between is refused (PROCESS_GONE).
 */
export interface ProcessPin {
  pid: number;
  /** /proc/PID/stat field 22, clock ticks since boot. */
  startTimeTicks: number;
  comm: string;
  /** Its namespaces when pinned (the helper reports the ones it actually entered). */
  namespaces: NamespaceInodes;
}

function gone(pid: number, why: string, details: Record<string, unknown> = {}): NsgateError {
  return new NsgateError('PROCESS_GONE', `process ${pid} ${why}`, { pid, ...details });
}

/**
 * Pins a live user process. PROCESS_NOT_FOUND when there is no such pid, KERNEL_THREAD for a
 * kernel thread (no mm, nothing to enter), PROCESS_GONE for a zombie (its namespaces are gone)
 * or a pid whose start time is not `expectedStartTimeTicks` (the caller's pin is stale).
 */
export function pinProcess(pid: number, options: ProcOptions & { expectedStartTimeTicks?: number } = {}): ProcessPin {
  const stat = readProcessStat(pid, options);
  if (isKernelThread(stat)) {
    throw new NsgateError('KERNEL_THREAD', `process ${pid} is a kernel thread; it has no namespaces of its own to enter`, { pid, comm: stat.comm });
  }
  if (stat.state === 'Z' || stat.state === 'X') throw gone(pid, 'has exited', { state: stat.state });
  if (options.expectedStartTimeTicks !== undefined && options.expectedStartTimeTicks !== stat.startTimeTicks) {
    throw gone(pid, 'is not the process that was pinned: the pid was reused', {
      expectedStartTimeTicks: options.expectedStartTimeTicks,
      startTimeTicks: stat.startTimeTicks,
    });
  }
  let namespaces: NamespaceInodes;
  try {
    namespaces = readNamespaceInodes(pid, options);
  } catch (err) {
    if (err instanceof NsgateError && err.code === 'PROCESS_NOT_FOUND') throw gone(pid, 'exited while being pinned');
    throw err;
  }
  return { pid, startTimeTicks: stat.startTimeTicks, comm: stat.comm, namespaces };
}

/**
 * Cheap re-check right before spawning: the pid still has the pinned start time (PROCESS_GONE
 * if not). The helper checks again after it holds a pidfd, which is the check that counts.
 */
export function assertPinned(pin: ProcessPin, options: ProcOptions = {}): void {
  let startTimeTicks: number;
  let state: string;
  try {
    ({ startTimeTicks, state } = readProcessStat(pin.pid, options));
  } catch (err) {
    if (err instanceof NsgateError && err.code === 'PROCESS_NOT_FOUND') throw gone(pin.pid, 'has exited');
    throw err;
  }
  if (startTimeTicks !== pin.startTimeTicks) {
    throw gone(pin.pid, 'is not the process that was pinned: the pid was reused', { expectedStartTimeTicks: pin.startTimeTicks, startTimeTicks });
  }
  if (state === 'Z' || state === 'X') throw gone(pin.pid, 'has exited', { state });
}

/**
 * The host's namespaces: those of pid 1 in procRoot, where nsgate may read them; a link it may
 * not read (pid 1 of an outer sandbox refuses ptrace access, EACCES) is taken from nsgate itself.
 */
export function hostNamespaceInodes(options: ProcOptions = {}): NamespaceInodes {
  const procRoot = procRootOf(options);
  const init = readNamespaceInodes(1, { procRoot });
  const self = readNamespaceInodes(process.pid, { procRoot });
  const out = {} as NamespaceInodes;
  for (const type of NAMESPACE_TYPES) out[type] = init[type] ?? self[type];
  return out;
}

/**
 * The namespaces a container does not share with the host: what `exec` enters by default for a
 * container (Docker shares the user, and on cgroup v1 the cgroup and time, namespaces with the host).
 * A link that cannot be read on either side is left out.
 */
export function unsharedNamespaces(target: NamespaceInodes, host: NamespaceInodes): NamespaceType[] {
  return NAMESPACE_TYPES.filter((t) => target[t] !== null && host[t] !== null && target[t] !== host[t]);
}
