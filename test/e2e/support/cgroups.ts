// Test cgroups under this run's parent (provided by the global setup as `cgroupParent`), in
// every v1 hierarchy and the unified one. The global setup removes whatever is left under the
// parent at teardown; tests still remove their own in afterAll/finally.
import { inject } from 'vitest';
import { cgroupHierarchies, hierarchyKey, makeCgroup, removeCgroupTree, type CgroupHierarchy } from './cgroupfs.js';
import { ENV_CGROUP_PARENT } from './harness.js';

export interface TestCgroup {
  /** The cgroup path as /proc/PID/cgroup writes it, e.g. `/nsgate-e2e-1234-ab12cd/limits`. */
  path: string;
  /** Its directory per hierarchy: keys are controller lists (`memory`, `cpu`, `name=systemd`) or `unified`. */
  dirs: Map<string, string>;
  /** The directory in the hierarchy holding `controller` (`memory`, `pids`, ... or `unified`). */
  dir(controller: string): string;
  /** Removes it and everything below it, deepest first; throws if something stays (processes inside). */
  remove(): void;
}

/** This run's cgroup parent. */
export function cgroupParent(): string {
  const parent = inject('cgroupParent') ?? process.env[ENV_CGROUP_PARENT];
  if (!parent) throw new Error('no cgroupParent: is test/e2e/global-setup.ts the globalSetup of this project?');
  return parent;
}

/** Makes `<run parent>/<name>` (name may have slashes) in every hierarchy. */
export function makeTestCgroup(name: string): TestCgroup {
  const hierarchies = cgroupHierarchies();
  const parent = cgroupParent();
  const dirs = makeCgroup(parent, name, hierarchies);
  const path = `${parent}/${name}`;
  return {
    path,
    dirs,
    dir: (controller) => dirFor(hierarchies, dirs, controller, path),
    remove: () => {
      const failed = removeCgroupTree(path, { hierarchies });
      if (failed.length) throw new Error(`could not remove test cgroup ${path}:\n${failed.join('\n')}`);
    },
  };
}

function dirFor(hierarchies: CgroupHierarchy[], dirs: Map<string, string>, controller: string, path: string): string {
  const h = hierarchies.find((x) => (controller === 'unified' ? x.version === 2 : x.controllers.includes(controller)));
  const dir = h && dirs.get(hierarchyKey(h));
  if (!dir) throw new Error(`no hierarchy with ${controller} holds ${path}`);
  return dir;
}
