// Copies a cgroup fixture tree to a temporary folder and points its mountinfo there.
import { copyFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import { CgroupFiles, type CgroupHierarchy, CgroupSystem, type CgroupSystemOptions, KeyedMutex, parseCgroupMounts } from '../../../src/kernel/cgroups/index.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface CgroupFixture {
  root: string;
  hierarchies: CgroupHierarchy[];
  /** The fixture path of a file: file('memory', '/nsgate/app', 'memory.limit_in_bytes'). */
  file(mount: string, path: string, name: string): string;
  read(mount: string, path: string, name: string): string;
  system(options?: Partial<CgroupSystemOptions>): CgroupSystem;
  cleanup(): void;
}

/** `kind` is "cgroup-v1" or "cgroup-v2"; mount points /sys/fs/cgroup/X become <tmp>/tree/X. */
export function loadFixture(kind: 'cgroup-v1' | 'cgroup-v2'): CgroupFixture {
  const root = mkdtempSync(join(tmpdir(), `nsgate-${kind}-`));
  cpSync(join(FIXTURES, kind), root, { recursive: true, verbatimSymlinks: true });
  const hierarchies = parseCgroupMounts(readFileSync(join(root, 'mountinfo'), 'utf8'))
    .filter((h) => h.mountPoint.startsWith('/sys/fs/cgroup'))
    .map((h) => ({ ...h, mountPoint: join(root, 'tree', h.mountPoint.slice('/sys/fs/cgroup'.length)) }));
  const file = (mount: string, path: string, name: string): string => join(root, 'tree', mount, path, name);
  return {
    root,
    hierarchies,
    file,
    read: (mount, path, name) => readFileSync(file(mount, path, name), 'utf8'),
    system: (options = {}) =>
      new CgroupSystem({
        hierarchies,
        managed: ['/nsgate'],
        fixture: true,
        sysRoot: join(root, 'sys'),
        mutex: new KeyedMutex(),
        sendSignal: () => {
          throw new Error('fixture tests never signal');
        },
        ...options,
      }),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** The NsgateError code a promise or function fails with (or "no error"). */
export async function codeOf(work: () => unknown): Promise<string> {
  try {
    await work();
    return 'no error';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

/**
 * Makes mkdir behave like the kernel's: a new cgroup directory comes with control files
 * (copied from `template` in the same hierarchy, subdirectories left out).
 */
export function populateOnMkdir(template: string): void {
  const real = CgroupFiles.prototype.mkdir;
  vi.spyOn(CgroupFiles.prototype, 'mkdir').mockImplementation(async function (this: CgroupFiles, h, path) {
    const made = await real.call(this, h, path);
    if (made) {
      const from = join(h.mountPoint, template);
      const to = join(h.mountPoint, path);
      for (const e of readdirSync(from, { withFileTypes: true })) if (e.isFile()) copyFileSync(join(from, e.name), join(to, e.name));
    }
    return made;
  });
}
