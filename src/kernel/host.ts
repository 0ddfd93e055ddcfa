import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CgroupMode, cgroupModeOf, readCgroupMounts } from './cgroups/mounts.js';
import { DEFAULT_LSM_LIST_PATH, readLsmList } from './security.js';

export interface HostHierarchy {
  version: 1 | 2;
  mountPoint: string;
  /** v1: the controllers bound to it; v2: what its cgroup.controllers lists (may be none) */
  controllers: string[];
  /** v1 named hierarchies carry a name and no controller (name=systemd) */
  name: string | null;
}

export interface HostFacts {
  kernel: string;
  cgroupMode: CgroupMode;
  hierarchies: HostHierarchy[];
  lsms: string[];
}

/** The kernel's own account of the host: release, cgroup layout, LSMs. */
export async function readHostFacts(procRoot: string, lsmFile = DEFAULT_LSM_LIST_PATH): Promise<HostFacts> {
  const mounts = readCgroupMounts(procRoot);
  const hierarchies = await Promise.all(
    mounts.map(async (h) => ({
      version: h.version,
      mountPoint: h.mountPoint,
      controllers: h.version === 2 ? await readV2Controllers(h.mountPoint) : h.controllers,
      name: h.name ?? null,
    })),
  );
  return {
    kernel: (await readFile(join(procRoot, 'sys/kernel/osrelease'), 'utf8')).trim(),
    cgroupMode: cgroupModeOf(mounts),
    hierarchies,
    // [] where securityfs is not mounted or lists none
    lsms: readLsmList(lsmFile) ?? [],
  };
}

async function readV2Controllers(mountPoint: string): Promise<string[]> {
  const text = await readFile(join(mountPoint, 'cgroup.controllers'), 'utf8').catch(() => '');
  return text.trim().split(/\s+/).filter((c) => c.length > 0);
}
