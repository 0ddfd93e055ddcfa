/**
 * The processes nsgate never moves, freezes or kills, whoever asks: pid 1 of the pid namespace
 * nsgate serves (its /proc), nsgate itself (every thread: worker threads share its tgid), and
 * the helpers it is running right now (the exec helper, a sandbox's parent). Moving nsgate into
 * a cgroup and then freezing that cgroup stops the service for good; moving pid 1 or a helper
 * out of its cgroup breaks the host or an exec's timeout.
 */
export type ProtectedReason = 'init' | 'nsgate' | 'helper';

export class ProtectedProcesses {
  private readonly helpers = new Set<number>();

  constructor(readonly selfPid: number = process.pid) {}

  /** Called by whoever spawns a helper, with its host pid; removed again when it has exited. */
  addHelper(pid: number): void {
    this.helpers.add(pid);
  }

  removeHelper(pid: number): void {
    this.helpers.delete(pid);
  }

  /** Why a thread group (its tgid, as /proc/PID/status gives it) is protected, or null. */
  reasonFor(tgid: number): ProtectedReason | null {
    if (tgid === 1) return 'init';
    if (tgid === this.selfPid) return 'nsgate';
    if (this.helpers.has(tgid)) return 'helper';
    return null;
  }
}

/** The one registry of this process. */
export const protectedProcesses = new ProtectedProcesses();
