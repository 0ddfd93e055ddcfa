import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  assertManaged,
  CgroupFiles,
  type CgroupHierarchy,
  isManaged,
  normalizeManagedPrefixes,
  parseCgroupPath,
  pathChain,
} from '../../../src/kernel/cgroups/index.js';
import { type CgroupFixture, codeOf, loadFixture } from './fixture.js';

describe('parseCgroupPath', () => {
  it('accepts paths as /proc/PID/cgroup writes them, in one spelling', () => {
    expect(parseCgroupPath('/')).toBe('/');
    expect(parseCgroupPath('/nsgate/app')).toBe('/nsgate/app');
    expect(parseCgroupPath('/nsgate/app/')).toBe('/nsgate/app');
    expect(parseCgroupPath('/docker/afe5d3:1')).toBe('/docker/afe5d3:1');
    expect(parseCgroupPath('/system.slice/docker-1.scope')).toBe('/system.slice/docker-1.scope');
  });

  it.each([
    ['/nsgate/../process_api', '".."'],
    ['/..', '".."'],
    ['/nsgate/./x', '"."'],
    ['/nsgate//x', '"//"'],
    ['//', '"//"'],
    ['/nsgate\0/x', 'NUL'],
    ['/nsgate\n/x', 'newline'],
    ['/nsgate\r', 'newline'],
    ['/nsgate\x1b[31m', 'control'],
    ['nsgate/x', 'start with'],
    ['', 'start with'],
    [`/${'a'.repeat(256)}`, '255'],
    [`/${'a/'.repeat(3000)}`, 'longer'],
  ])('refuses %j (%s)', async (path, reason) => {
    let err: unknown;
    try {
      parseCgroupPath(path);
    } catch (e) {
      err = e;
    }
    expect((err as { code: string }).code).toBe('CGROUP_PATH_INVALID');
    expect((err as Error).message).toContain(reason);
  });

  it('refuses what is not a string', async () => {
    expect(await codeOf(() => parseCgroupPath(42))).toBe('CGROUP_PATH_INVALID');
  });

  it('chains ancestors', () => {
    expect(pathChain('/a/b/c')).toEqual(['/a', '/a/b', '/a/b/c']);
    expect(pathChain('/')).toEqual([]);
  });
});

describe('managed prefixes', () => {
  it('a prefix manages itself and below, not its look-alikes', () => {
    const managed = normalizeManagedPrefixes(['/nsgate', ' /batch/ ']);
    expect(managed).toEqual(['/nsgate', '/batch']);
    expect(isManaged('/nsgate', managed)).toBe(true);
    expect(isManaged('/nsgate/a/b', managed)).toBe(true);
    expect(isManaged('/batch/x', managed)).toBe(true);
    expect(isManaged('/nsgatex', managed)).toBe(false);
    expect(isManaged('/', managed)).toBe(false);
    expect(isManaged('/process_api/abc', managed)).toBe(false);
  });

  it('CGROUP_NOT_MANAGED names the path and the managed list', () => {
    try {
      assertManaged('/process_api', ['/nsgate']);
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: 'CGROUP_NOT_MANAGED', details: { path: '/process_api', managed: ['/nsgate'] } });
    }
  });

  it('refuses to manage the root or a malformed prefix', async () => {
    expect(await codeOf(() => normalizeManagedPrefixes(['/']))).toBe('CGROUP_PATH_INVALID');
    expect(await codeOf(() => normalizeManagedPrefixes(['/a/../b']))).toBe('CGROUP_PATH_INVALID');
  });
});

describe('CgroupFiles: the one door to cgroupfs', () => {
  let fx: CgroupFixture;
  let files: CgroupFiles;
  let memory: CgroupHierarchy;
  let devices: CgroupHierarchy;
  let unified: CgroupHierarchy;

  beforeEach(() => {
    fx = loadFixture('cgroup-v1');
    files = new CgroupFiles({ managed: ['/nsgate'], fixture: true });
    memory = fx.hierarchies.find((h) => h.controllers.includes('memory'))!;
    devices = fx.hierarchies.find((h) => h.controllers.includes('devices'))!;
    unified = fx.hierarchies.find((h) => h.version === 2)!;
  });
  afterEach(() => fx.cleanup());

  it('resolves a cgroup directory, and null for one that is not there', () => {
    expect(files.dir(memory, '/nsgate/app')?.read('memory.limit_in_bytes')).toBe('7999488\n');
    expect(files.dir(memory, '/nsgate/nope')).toBeNull();
    expect(files.dir(memory, '/nsgate/app')?.readOptional('memory.nope')).toBeNull();
  });

  it('refuses a symlink on the way, and a file where a cgroup should be', async () => {
    expect(await codeOf(() => files.dir(memory, '/nsgate/sneaky'))).toBe('CGROUP_PATH_INVALID');
    expect(await codeOf(() => files.dir(memory, '/nsgate/sneaky/x'))).toBe('CGROUP_PATH_INVALID');
    expect(await codeOf(() => files.dir(memory, '/nsgate/app/memory.stat'))).toBe('CGROUP_PATH_INVALID');
  });

  it('writes only files of the vocabulary, never release_agent, notify_on_release, devices.*', async () => {
    const app = files.dir(memory, '/nsgate/app')!;
    for (const file of ['release_agent', 'notify_on_release', 'tasks', 'memory.force_empty', 'memory.swappiness', 'cgroup.clone_children', 'memory.max']) {
      expect(await codeOf(() => app.write(file, '1')), file).toBe('FORBIDDEN');
    }
    const dev = files.dir(devices, '/nsgate/app')!;
    expect(await codeOf(() => dev.write('devices.allow', 'a *:* rwm'))).toBe('FORBIDDEN');
    expect(fx.read('memory', '/nsgate/app', 'notify_on_release')).toBe('0\n');
    expect(fx.read('devices', '/nsgate/app', 'devices.allow')).toBe('');
  });

  it('refuses file names that could leave the directory', async () => {
    const app = files.dir(memory, '/nsgate/app')!;
    for (const file of ['../../system.slice/memory.limit_in_bytes', 'memory.limit_in_bytes/', '.', '', 'a\nb']) {
      expect(await codeOf(() => app.write(file, '1')), file).toBe('CGROUP_PATH_INVALID');
      expect(await codeOf(() => app.read(file)), file).toBe('CGROUP_PATH_INVALID');
    }
  });

  it('writes nothing outside the managed cgroups, whatever the caller asks', async () => {
    const other = files.dir(memory, '/system.slice')!;
    expect(await codeOf(() => other.write('memory.limit_in_bytes', '8000000'))).toBe('CGROUP_NOT_MANAGED');
    expect(fx.read('memory', '/system.slice', 'memory.limit_in_bytes')).toBe('9223372036854771712\n');
    expect(await codeOf(() => files.mkdir(memory, '/system.slice/x'))).toBe('CGROUP_NOT_MANAGED');
    expect(await codeOf(() => files.rmdir(memory, '/system.slice'))).toBe('CGROUP_NOT_MANAGED');
    // The root's cgroup.subtree_control is a parent nsgate does not manage.
    const root = files.dir(unified, '/')!;
    expect(await codeOf(() => root.write('cgroup.subtree_control', '+memory'))).toBe('CGROUP_NOT_MANAGED');
    expect(fx.read('unified', '/', 'cgroup.subtree_control')).toBe('');
  });

  it('refuses one-line values only', async () => {
    const app = files.dir(memory, '/nsgate/app')!;
    expect(await codeOf(() => app.write('memory.limit_in_bytes', '1\n2'))).toBe('LIMIT_INVALID');
    expect(fx.read('memory', '/nsgate/app', 'memory.limit_in_bytes')).toBe('7999488\n');
  });

  it('a cgroup removed between lookup and read is CGROUP_GONE; a missing file is CONTROLLER_UNAVAILABLE', async () => {
    const worker = files.dir(memory, '/nsgate/app/worker')!;
    expect(await codeOf(() => worker.read('memory.nope'))).toBe('CONTROLLER_UNAVAILABLE');
    rmSync(worker.fsPath, { recursive: true });
    expect(await codeOf(() => worker.read('memory.limit_in_bytes'))).toBe('CGROUP_GONE');
    expect(await codeOf(() => worker.write('memory.limit_in_bytes', '8000000'))).toBe('CGROUP_GONE');
  });

  it('inside one operation, a directory is looked up once and handed back; a fresh look-up outside', async () => {
    const outside = files.dir(memory, '/nsgate/app');
    expect(files.dir(memory, '/nsgate/app')).not.toBe(outside);
    await files.operation(async () => {
      const first = files.dir(memory, '/nsgate/app');
      await Promise.resolve();
      expect(files.dir(memory, '/nsgate/app')).toBe(first);
      // nested operations join the outer one; fresh() leaves it
      expect(files.operation(() => files.dir(memory, '/nsgate/app'))).toBe(first);
      expect(files.fresh(() => files.dir(memory, '/nsgate/app'))).not.toBe(first);
    });
  });

  it('inside one operation, a cgroup removed after its look-up still reads as CGROUP_GONE, and mkdir and rmdir are seen', async () => {
    await files.operation(async () => {
      const worker = files.dir(memory, '/nsgate/app/worker')!;
      rmSync(worker.fsPath, { recursive: true });
      expect(await codeOf(() => files.dir(memory, '/nsgate/app/worker')!.read('memory.limit_in_bytes'))).toBe('CGROUP_GONE');
      expect(files.dir(memory, '/nsgate/app/fresh')).toBeNull();
      expect(await files.mkdir(memory, '/nsgate/app/fresh')).toBe(true);
      expect(files.dir(memory, '/nsgate/app/fresh')).not.toBeNull();
      await files.rmdir(memory, '/nsgate/app/fresh');
      expect(files.dir(memory, '/nsgate/app/fresh')).toBeNull();
    });
  });

  it('with the statfs check on, a plain folder is not a cgroup filesystem', async () => {
    const strict = new CgroupFiles({ managed: ['/nsgate'] });
    expect(await codeOf(() => strict.dir(memory, '/nsgate/app'))).toBe('CGROUP_PATH_INVALID');
  });
});

describe('CgroupFiles on a v2 tree', () => {
  let fx: CgroupFixture;
  beforeEach(() => (fx = loadFixture('cgroup-v2')));
  afterEach(() => fx.cleanup());

  it('never writes through a symlinked control file (O_NOFOLLOW), and refuses a symlinked cgroup', async () => {
    const files = new CgroupFiles({ managed: ['/nsgate'], fixture: true });
    const [h] = fx.hierarchies;
    const trap = files.dir(h, '/nsgate/trap')!;
    expect(await codeOf(() => trap.write('memory.max', '8000000'))).toBe('CGROUP_PATH_INVALID');
    expect(await codeOf(() => trap.read('memory.max'))).toBe('CGROUP_PATH_INVALID');
    expect(fx.read('', '/system.slice', 'memory.max')).toBe('1073741824\n');
    expect(await codeOf(() => files.dir(h, '/nsgate/escape'))).toBe('CGROUP_PATH_INVALID');
  });
});

describe('a mount point that is not a directory', () => {
  it('is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsgate-mp-'));
    try {
      writeFileSync(join(dir, 'file'), 'x');
      mkdirSync(join(dir, 'ok'));
      const files = new CgroupFiles({ managed: ['/nsgate'], fixture: true });
      const h = (mountPoint: string): CgroupHierarchy => ({ version: 1, mountPoint, controllers: ['memory'], root: '/', device: '0:1' });
      expect(await codeOf(() => files.dir(h(join(dir, 'file')), '/x'))).toBe('CGROUP_PATH_INVALID');
      expect(await codeOf(() => files.dir(h(`${dir}/ok/../ok`), '/x'))).toBe('CGROUP_PATH_INVALID');
      expect(await codeOf(() => files.dir(h('relative/path'), '/x'))).toBe('CGROUP_PATH_INVALID');
      expect(readFileSync(join(dir, 'file'), 'utf8')).toBe('x');
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
