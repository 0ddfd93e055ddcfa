import { type ProcOptions, procRootOf, readProcText } from './proc-file.js';

/** One line of /proc/PID/cgroup: "hierarchy-ID:controller-list:path". */
export interface CgroupMembership {
  /** 0 is the v2 (unified) hierarchy. */
  hierarchyId: number;
  /** Empty for v2; "name=systemd" style entries stay as written. */
  controllers: string[];
  path: string;
}

/** The path may itself contain ':', so only the first two colons separate fields. */
export function parseProcCgroup(text: string): CgroupMembership[] {
  const lines: CgroupMembership[] = [];
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    lines.push({
      hierarchyId: Number(line.slice(0, first)),
      controllers: controllers === '' ? [] : controllers.split(','),
      path: line.slice(second + 1),
    });
  }
  return lines;
}

export function readProcessCgroups(pid: number, options?: ProcOptions): CgroupMembership[] {
  return parseProcCgroup(readProcText(procRootOf(options), pid, 'cgroup'));
}
