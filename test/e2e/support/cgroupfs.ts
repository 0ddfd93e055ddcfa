// Plain cgroupfs work for the e2e harness: which hierarchies are mounted, making a cgroup
// in each, and removing a run's whole subtree (deepest first). Every write is checked to
// stay under a `/nsgate...` parent: the machine is shared (MACHINE.md), nothing else is ours.
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { join, posix } from 'node:path';

export interface CgroupHierarchy {
  version: 1 | 2;
  /** Where it is mounted, e.g. /sys/fs/cgroup/memory. */
  mountPoint: string;
  /** The cgroup path at the mount point (`/` unless the mount is a subtree). */
  root: string;
  /** v1: its controllers (and `name=systemd` style names); v2: empty. */
  controllers: string[];
}

/** Every cgroup hierarchy mounted in this mount namespace, one entry per superblock. */
export function cgroupHierarchies(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): CgroupHierarchy[] {
  const known = new Set(
    readFileSync('/proc/cgroups', 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split('\t')[0]!),
  );
  const seen = new Set<string>();
  const out: CgroupHierarchy[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const f = left.split(' ');
    const [fstype, , superOpts = ''] = right.split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const dev = f[2]!;
    if (seen.has(dev)) continue;
    seen.add(dev);
    const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const controllers = fstype === 'cgroup' ? superOpts.split(',').filter((o) => known.has(o) || o.startsWith('name=')) : [];
    out.push({ version: fstype === 'cgroup' ? 1 : 2, mountPoint: unescape(f[4]!), root: unescape(f[3]!), controllers });
  }
  return out;
}

/** A stable short key for a hierarchy: its controllers joined (`cpu`, `name=systemd`), or `unified`. */
export function hierarchyKey(h: CgroupHierarchy): string {
  return h.version === 2 ? 'unified' : h.controllers.join(',');
}

function checkParent(parent: string): void {
  if (!/^\/nsgate[A-Za-z0-9._-]*$/.test(parent)) throw new Error(`refusing cgroup parent ${JSON.stringify(parent)}: not a top-level /nsgate... name`);
}

function checkRelative(path: string): void {
  if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(path) || path.split('/').some((p) => p === '.' || p === '..')) {
    throw new Error(`not a plain relative cgroup path: ${JSON.stringify(path)}`);
  }
}

/** The directory of cgroup `path` in hierarchy h, or undefined when the mount does not show it. */
export function cgroupDir(h: CgroupHierarchy, path: string): string | undefined {
  if (h.root === '/') return join(h.mountPoint, path);
  if (path === h.root || path.startsWith(`${h.root}/`)) return join(h.mountPoint, path.slice(h.root.length));
  return undefined;
}

/**
 * Makes `parent/relative` (and the levels above it) in every hierarchy; returns the directory
 * per hierarchy key. On v1 cpuset a new cgroup starts with no cpus and mems, so it gets its
 * parent's (else no process could join it).
 */
export function makeCgroup(parent: string, relative: string, hierarchies = cgroupHierarchies()): Map<string, string> {
  checkParent(parent);
  checkRelative(relative);
  const dirs = new Map<string, string>();
  for (const h of hierarchies) {
    const top = cgroupDir(h, parent);
    if (!top) continue;
    let dir = top;
    for (const part of ['', ...relative.split('/')]) {
      dir = part ? join(dir, part) : dir;
      if (!existsSync(dir)) {
        mkdirSync(dir);
        if (h.version === 1 && h.controllers.includes('cpuset')) inheritCpuset(dir);
      }
    }
    dirs.set(hierarchyKey(h), dir);
  }
  return dirs;
}

function inheritCpuset(dir: string): void {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    const mine = join(dir, file);
    if (readFileSync(mine, 'utf8').trim() === '') writeFileSync(mine, readFileSync(join(dir, '..', file), 'utf8').trim());
  }
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** rmdir, retrying EBUSY for a while (a just-removed container's processes may still be exiting). */
function rmdirPatiently(dir: string, waitMs: number): void {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() > deadline) throw err;
      sleepSync(100);
    }
  }
}

/** Every cgroup directory at and below `top`, deepest first. */
function subtreeDeepestFirst(top: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name));
    out.push(dir);
  };
  walk(top);
  return out;
}

/**
 * Removes cgroup `path` (under a `/nsgate...` parent, or the parent itself) and everything below
 * it, deepest first, in every hierarchy. Returns what could not be removed (still has processes).
 */
export function removeCgroupTree(path: string, opts: { waitMs?: number; hierarchies?: CgroupHierarchy[] } = {}): string[] {
  const normal = posix.normalize(path);
  const parent = `/${normal.split('/')[1] ?? ''}`;
  checkParent(parent);
  if (normal !== parent) checkRelative(normal.slice(parent.length + 1));
  const failed: string[] = [];
  for (const h of opts.hierarchies ?? cgroupHierarchies()) {
    const top = cgroupDir(h, normal);
    const fence = cgroupDir(h, parent);
    if (!top || !fence) continue;
    for (const dir of subtreeDeepestFirst(top)) {
      if (dir !== fence && !dir.startsWith(`${fence}/`)) throw new Error(`refusing to remove ${dir}: outside ${fence}`);
      try {
        rmdirPatiently(dir, opts.waitMs ?? 2_000);
      } catch (err) {
        failed.push(`${dir}: ${(err as Error).message}`);
      }
    }
  }
  return failed;
}

/** Top-level cgroups named like a run's parent (`/nsgate-e2e-...`), in any hierarchy. */
export function runParentsOnHost(hierarchies = cgroupHierarchies()): string[] {
  const names = new Set<string>();
  for (const h of hierarchies) {
    if (h.root !== '/') continue;
    for (const e of readdirSync(h.mountPoint, { withFileTypes: true })) {
      if (e.isDirectory() && e.name.startsWith('nsgate-e2e-')) names.add(`/${e.name}`);
    }
  }
  return [...names].sort();
}
