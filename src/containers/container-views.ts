import { Inject, Injectable } from '@nestjs/common';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import type { Limits } from '../kernel/cgroups/driver.js';
import { CgroupSystem } from '../kernel/cgroups/system.js';
import { recogniseMemberships } from '../kernel/containers/runtimes.js';
import { NsgateError } from '../kernel/errors.js';
import { readProcessCgroups } from '../kernel/procfs/cgroup.js';
import { type NamespaceInodes, readNamespaceInodes } from '../kernel/procfs/namespace-links.js';
import { NAMESPACE_TYPES } from '../kernel/procfs/namespace-types.js';
import type { NamespaceInodesModel } from '../processes/process.models.js';
import type { ContainerModel } from './container.models.js';
import type { IndexedContainer } from './container-index.js';
import { ContainerDrift } from './container-drift.js';

function inodesModel(inodes: NamespaceInodes): NamespaceInodesModel {
  return Object.fromEntries(NAMESPACE_TYPES.map((t) => [t, inodes[t] === null ? null : Number(inodes[t])])) as unknown as NamespaceInodesModel;
}

/**
 * A container as the API shows it: what the index knows, plus its limits read from the
 * kernel's files on every call (never cached, so `docker update` or a raw write shows at once),
 * and which namespaces it shares with which other containers and the host.
 */
@Injectable()
export class ContainerViews {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly system: CgroupSystem,
    private readonly drift: ContainerDrift,
  ) {}

  view(c: IndexedContainer): ContainerModel {
    // what the index holds, without the parts this view reads from the kernel below
    const base: ContainerModel = { ...this.identityView(c), cgroupPath: null, namespaces: null };
    if (c.pid === null) return base;
    try {
      let { cgroupPath, cgroups, namespaces } = c;
      if (c.source === 'cgroup') {
        // other runtimes' containers come from a /proc scan that keeps no namespaces: read them
        cgroups = readProcessCgroups(c.pid, { procRoot: this.config.procRoot });
        cgroupPath = recogniseMemberships(cgroups)?.cgroupPath ?? null;
        namespaces = readNamespaceInodes(c.pid, { procRoot: this.config.procRoot });
      }
      const limits = cgroupPath && this.system.exists(cgroupPath) ? (this.system.readLimits(cgroupPath) as Limits) : null;
      return {
        ...base,
        cgroupPath,
        cgroups: cgroups.map((m) => ({ hierarchy: m.hierarchyId, controllers: m.controllers, path: m.path })),
        namespaces: namespaces ? inodesModel(namespaces) : null,
        limits,
        drift: this.drift.of(c, limits),
      };
    } catch (err) {
      // it stopped between the index and this read
      if (err instanceof NsgateError && (err.code === 'PROCESS_NOT_FOUND' || err.code === 'CGROUP_NOT_FOUND' || err.code === 'CGROUP_GONE')) {
        return { ...base, pid: null, state: 'exited' };
      }
      throw err;
    }
  }

  /**
   * Which namespaces each of `views` shares, with which of `all` and with the host. Views of
   * the other containers need only their namespaces, which the index holds: no kernel reads.
   */
  withSharing(views: ContainerModel[], all: ContainerModel[], host: NamespaceInodes): ContainerModel[] {
    return views.map((v) => {
      if (!v.namespaces || v.pid === null) return v;
      const shared = NAMESPACE_TYPES.flatMap((type) => {
        const inode = v.namespaces![type];
        if (inode === null) return [];
        const others = all.filter((o) => o.id !== v.id && o.pid !== null && o.namespaces?.[type] === inode).map((o) => o.id);
        if (host[type] !== null && Number(host[type]) === inode) others.push('host');
        return others.length ? [{ type, inode, with: others }] : [];
      });
      return { ...v, sharedNamespaces: shared };
    });
  }

  /** The namespaces-only view of a container, for sharing: what the index holds, no kernel reads. */
  identityView(c: IndexedContainer): ContainerModel {
    return {
      id: c.id,
      name: c.name,
      image: c.image,
      state: c.state,
      pid: c.pid,
      runtime: c.runtime,
      source: c.source,
      cgroupPath: c.cgroupPath,
      cgroups: [],
      namespaces: c.namespaces ? inodesModel(c.namespaces) : null,
      limits: null,
      drift: null,
      sharedNamespaces: [],
      stale: c.stale,
    };
  }
}
