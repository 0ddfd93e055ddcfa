import { AsyncLocalStorage } from 'node:async_hooks';
import { closeSync, constants, lstatSync, openSync, readdirSync, readFileSync, rmSync, statfsSync, type Stats } from 'node:fs';
import { mkdir, open, rmdir, statfs } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';
import { NsgateError, errnoToCode, isErrno } from '../errors.js';
import { type CgroupHierarchy, hierarchyLabel } from './mounts.js';
import { assertManaged, parentOf } from './paths.js';

/** statfs f_type of a cgroup v1 hierarchy and of the unified (v2) one. */
export const CGROUP_SUPER_MAGIC = 0x27e0eb;
export const CGROUP2_SUPER_MAGIC = 0x63677270;

/**
 * The only files nsgate ever writes, per version. Everything else (release_agent,
 * notify_on_release, devices.*, tasks, memory.force_empty, ...) is refused before any open().
 */
const WRITABLE: Record<1 | 2, ReadonlySet<string>> = {
  1: new Set([
    'memory.limit_in_bytes',
    'memory.memsw.limit_in_bytes',
    'cpu.cfs_quota_us',
    'cpu.cfs_period_us',
    'cpu.shares',
    'pids.max',
    'cpuset.cpus',
    'cpuset.mems',
    'freezer.state',
    'cgroup.procs',
  ]),
  2: new Set([
    'memory.max',
    'memory.high',
    'memory.swap.max',
    'cpu.max',
    'cpu.weight',
    'pids.max',
    'cpuset.cpus',
    'cpuset.mems',
    'cgroup.freeze',
    'cgroup.kill',
    'cgroup.procs',
    'cgroup.subtree_control',
  ]),
};

/** Belt and braces: these stay refused even if someone widens the allow-list above. */
const NEVER_WRITTEN = /^(release_agent|notify_on_release|devices\..*|tasks|cgroup\.clone_children)$/;

const FILE_NAME = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;

export interface CgroupFilesOptions {
  /** Writes, mkdir and rmdir happen only at these paths and below (already normalized). */
  managed: readonly string[];
  /**
   * The tree is a plain folder tree standing in for cgroupfs (unit tests only): no statfs
   * checks, and rmdir takes a cgroup's control files with it, as the kernel does. Default
   * false: every directory and every written file must be on a cgroup filesystem.
   */
  fixture?: boolean;
  /** Where /proc is, for /proc/self/fd (the written file's filesystem). Default "/proc". */
  procRoot?: string;
}

export function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
}

/** The errno a failed kernel call carried, kept in NsgateError details by this module. */
export function kernelErrno(err: unknown): string | undefined {
  if (err instanceof NsgateError) return typeof err.details?.errno === 'string' ? err.details.errno : undefined;
  return errnoOf(err);
}

interface MountFacts {
  dev: number;
  /** The mount id of the hierarchy's mount (mountinfo's first field), as the kernel reports it for an open fd. */
  mountId: number;
}

/** Directories already proven to sit on their hierarchy's mount, by (hierarchy, path) -> inode. */
const VERIFIED_LIMIT = 20_000;

/** The directories one operation has resolved: (hierarchy, path) -> the checked directory, or null when absent. */
type Resolved = Map<CgroupHierarchy, Map<string, CgroupDir | null>>;

/**
 * The one door to cgroupfs: every read, write, mkdir and rmdir of the cgroup layer goes
 * through here. It turns (hierarchy, cgroup path, file name) into a filesystem path itself, so
 * no caller ever hands it one, and it refuses symlinks, other filesystems, files outside the
 * allow-list and writes outside the managed cgroups.
 */
export class CgroupFiles {
  private readonly mounts = new Map<CgroupHierarchy, MountFacts>();
  private readonly verified = new Map<CgroupHierarchy, Map<string, number>>();
  private readonly resolved = new AsyncLocalStorage<Resolved>();
  readonly managed: readonly string[];
  private readonly fixture: boolean;
  /** Where /proc is (also for the tgid of a thread listed in a threaded cgroup). */
  readonly procRoot: string;

  constructor(options: CgroupFilesOptions) {
    this.managed = [...options.managed];
    this.fixture = options.fixture ?? false;
    this.procRoot = options.procRoot ?? '/proc';
  }

  /**
   * Runs `fn` as one operation: inside it (across its awaits too), each directory is looked up
   * and checked once, and every later dir() of the same (hierarchy, path) hands back that checked
   * directory. An operation inside another joins it. What is written stays checked per write
   * (the opened file's filesystem and mount, see write()); a file found missing is answered from a
   * fresh look-up of its directory, so a cgroup removed mid-operation is still CGROUP_GONE.
   */
  operation<T>(fn: () => T): T {
    if (this.resolved.getStore()) return fn();
    return this.resolved.run(new Map(), fn);
  }

  /** Runs `fn` outside any operation: every dir() inside looks the directory up afresh. */
  fresh<T>(fn: () => T): T {
    return this.resolved.exit(fn);
  }

  /** The directory of `path` in `h`, checked all the way down; null when it does not exist there. */
  dir(h: CgroupHierarchy, path: string): CgroupDir | null {
    const op = this.resolved.getStore();
    if (!op) return this.resolve(h, path);
    let inH = op.get(h);
    if (!inH) op.set(h, (inH = new Map()));
    const known = inH.get(path);
    if (known !== undefined) return known;
    const dir = this.resolve(h, path);
    inH.set(path, dir);
    return dir;
  }

  /** Forgets what the current operation knew of (h, path): after a mkdir or rmdir of it. */
  private forget(h: CgroupHierarchy, path: string): void {
    this.resolved.getStore()?.get(h)?.delete(path);
  }

  /** The look-up itself: lstat of each name (no symlink, a directory, the hierarchy's device), statfs, mount id. */
  private resolve(h: CgroupHierarchy, path: string): CgroupDir | null {
    const mount = this.mountFacts(h);
    const rel = relativeToRoot(h, path);
    if (rel === null) return null;
    let current = h.mountPoint;
    let finalIno = 0;
    for (const name of rel === '/' ? [] : rel.slice(1).split('/')) {
      current = join(current, name);
      let st: Stats;
      try {
        st = lstatSync(current);
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
        throw kernelError(err, `cannot look up cgroup ${path}`, { path, hierarchy: hierarchyLabel(h) });
      }
      if (st.isSymbolicLink()) throw pathRefused(path, h, 'a symlink is on the way');
      if (!st.isDirectory()) throw pathRefused(path, h, 'not a cgroup directory');
      if (st.dev !== mount.dev) throw pathRefused(path, h, 'leaves the cgroup filesystem');
      finalIno = st.ino;
    }
    if (!this.fixture && rel !== '/') this.checkMagic(h, current, path);
    if (!this.fixture && rel !== '/') this.checkSameMount(h, path, current, finalIno, mount);
    return new CgroupDir(this, h, path, current);
  }

  /**
   * A bind mount of another cgroup of the same hierarchy has the same st_dev and statfs magic,
   * so the checks above cannot see it: the mount id can. The directory reached must sit on the
   * hierarchy's own mount (so no mount was crossed on the way: paths only descend). Read from
   * /proc/self/fdinfo of the opened directory, once per directory inode: kernfs never reuses an
   * inode number, so a directory seen before under the same path with the same inode is the
   * same cgroup, and a mount planted since shows a different inode and is checked again.
   */
  private checkSameMount(h: CgroupHierarchy, path: string, fsPath: string, ino: number, mount: MountFacts): void {
    let seen = this.verified.get(h);
    if (seen?.get(path) === ino) return;
    let fd: number;
    try {
      fd = openSync(fsPath, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) throw new NsgateError('CGROUP_GONE', `cgroup ${path} disappeared`, { path, hierarchy: hierarchyLabel(h) });
      throw kernelError(err, `cannot open cgroup ${path}`, { path, hierarchy: hierarchyLabel(h) });
    }
    try {
      this.assertOnMount(h, path, fd, mount);
    } finally {
      closeSync(fd);
    }
    if (!seen) this.verified.set(h, (seen = new Map()));
    if (seen.size >= VERIFIED_LIMIT) seen.clear();
    seen.set(path, ino);
  }

  private assertOnMount(h: CgroupHierarchy, path: string, fd: number, mount: MountFacts, file?: string): void {
    const id = mountIdOf(this.procRoot, fd);
    if (id === mount.mountId) return;
    const at = mountPointOf(this.procRoot, id);
    throw new NsgateError(
      'CGROUP_MOUNT_CROSSED',
      `cgroup path ${path} refused: it crosses a mount${at ? ` at ${at}` : ''} inside ${h.mountPoint}; nsgate changes only what lies beneath the hierarchy's own mount`,
      { path, hierarchy: hierarchyLabel(h), ...(file ? { file } : {}), mountId: id, ...(at ? { mountPoint: at } : {}) },
    );
  }

  /** mkdir of `path` in `h`; false when it was already there. The parent must exist. */
  async mkdir(h: CgroupHierarchy, path: string): Promise<boolean> {
    assertManaged(path, this.managed);
    const parent = this.dir(h, parentOf(path));
    if (!parent) {
      throw new NsgateError('CGROUP_NOT_FOUND', `parent cgroup ${parentOf(path)} does not exist`, { path: parentOf(path), hierarchy: hierarchyLabel(h) });
    }
    const name = path.slice(path.lastIndexOf('/') + 1);
    this.forget(h, path);
    try {
      await mkdir(join(parent.fsPath, name));
    } catch (err) {
      if (isErrno(err, 'EEXIST')) {
        if (this.dir(h, path)) return false;
        throw pathRefused(path, h, 'a file of that name exists');
      }
      throw kernelError(err, `cannot create cgroup ${path} in ${hierarchyLabel(h)}`, { path, hierarchy: hierarchyLabel(h) });
    }
    if (!this.dir(h, path)) throw new NsgateError('CGROUP_GONE', `cgroup ${path} disappeared right after it was created`, { path });
    return true;
  }

  /** rmdir of `path` in `h`; a directory already gone counts as removed. */
  async rmdir(h: CgroupHierarchy, path: string): Promise<void> {
    assertManaged(path, this.managed);
    this.forget(h, path);
    const dir = this.dir(h, path);
    if (!dir) return;
    this.forget(h, path);
    try {
      if (this.fixture) for (const f of readdirSync(dir.fsPath, { withFileTypes: true })) if (f.isFile()) rmSync(join(dir.fsPath, f.name));
      await rmdir(dir.fsPath);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw kernelError(err, `cannot remove cgroup ${path} in ${hierarchyLabel(h)}`, { path, hierarchy: hierarchyLabel(h) });
    }
  }

  /**
   * Puts a process back into the cgroup it came from in one hierarchy: the undo of a move that
   * another hierarchy refused. The only write outside the managed cgroups, and only of
   * cgroup.procs, with the pid the move took out of that very cgroup (the caller read it from
   * /proc/PID/cgroup before the move, and a move out of it was allowed).
   */
  async restoreProcess(h: CgroupHierarchy, path: string, pid: number): Promise<void> {
    const dir = this.dir(h, path);
    if (!dir) throw new NsgateError('CGROUP_GONE', `cgroup ${path} disappeared`, { path, hierarchy: hierarchyLabel(h) });
    await this.write(dir, 'cgroup.procs', String(pid), { outsideManaged: true });
  }

  /** Called by CgroupDir.write: the allow-list, the managed check, then one write(2). */
  async write(dir: CgroupDir, file: string, value: string, options: { outsideManaged?: boolean } = {}): Promise<void> {
    const h = dir.hierarchy;
    assertFileName(file);
    if (NEVER_WRITTEN.test(file) || !WRITABLE[h.version].has(file)) {
      throw new NsgateError('FORBIDDEN', `nsgate never writes ${file} (cgroup v${h.version})`, { path: dir.path, file });
    }
    if (!(options.outsideManaged && file === 'cgroup.procs')) assertManaged(dir.path, this.managed);
    if (value.includes('\0') || value.includes('\n')) {
      throw new NsgateError('LIMIT_INVALID', `a value for ${file} must be one line`, { path: dir.path, file });
    }
    const target = join(dir.fsPath, file);
    let handle;
    try {
      handle = await open(target, constants.O_WRONLY | constants.O_TRUNC | constants.O_NOFOLLOW);
    } catch (err) {
      throw this.missingOr(err, dir, file, `cannot open ${file} of ${dir.path}`);
    }
    try {
      if (!this.fixture) {
        // The opened file itself, not its name: nothing swapped in since the lookup can fool this.
        const st = await statfs(join(this.procRoot, 'self', 'fd', String(handle.fd)));
        if (st.type !== magicOf(h)) throw pathRefused(dir.path, h, `${file} is not on a cgroup filesystem`);
      }
      // The same for the mount: the file written is on the hierarchy's own mount, whatever was
      // mounted on the way since the directory was checked.
      if (!this.fixture) this.assertOnMount(h, dir.path, handle.fd, this.mountFacts(h), file);
      // An empty write(2) never reaches the kernel; a lone newline is how "clear" is said.
      const bytes = Buffer.from(value === '' ? '\n' : value);
      await handle.write(bytes, 0, bytes.length);
    } catch (err) {
      if (err instanceof NsgateError) throw err;
      throw this.missingOr(err, dir, file, `the kernel refused ${JSON.stringify(value)} for ${file} of ${dir.path}`, value);
    } finally {
      await handle.close();
    }
  }

  /** Called by CgroupDir.read: O_NOFOLLOW, so the last name cannot be a symlink either. */
  readOptional(dir: CgroupDir, file: string): string | null {
    assertFileName(file);
    let fd: number;
    try {
      fd = openSync(join(dir.fsPath, file), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) {
        if (!this.resolve(dir.hierarchy, dir.path)) throw gone(dir);
        return null;
      }
      if (isErrno(err, 'ELOOP')) throw pathRefused(dir.path, dir.hierarchy, `${file} is a symlink`);
      throw kernelError(err, `cannot read ${file} of ${dir.path}`, { path: dir.path, file });
    }
    try {
      return readFileSync(fd, 'utf8');
    } catch (err) {
      // Reading a file of a removed cgroup gives ENODEV.
      if (isErrno(err, 'ENODEV', 'ENOENT')) throw gone(dir);
      throw kernelError(err, `cannot read ${file} of ${dir.path}`, { path: dir.path, file });
    } finally {
      closeSync(fd);
    }
  }

  children(dir: CgroupDir): string[] {
    try {
      return readdirSync(dir.fsPath, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw gone(dir);
      throw kernelError(err, `cannot list ${dir.path}`, { path: dir.path });
    }
  }

  private missingOr(err: unknown, dir: CgroupDir, file: string, message: string, value?: string): NsgateError {
    // ENODEV: the file belongs to a cgroup that was removed (even if one of that name exists again).
    if (isErrno(err, 'ENODEV')) return gone(dir);
    if (isErrno(err, 'ENOENT')) {
      if (!this.resolve(dir.hierarchy, dir.path)) return gone(dir);
      if (isErrno(err, 'ENOENT')) {
        return new NsgateError('CONTROLLER_UNAVAILABLE', `${dir.path} has no ${file} in ${hierarchyLabel(dir.hierarchy)}`, {
          path: dir.path,
          file,
          hierarchy: hierarchyLabel(dir.hierarchy),
        });
      }
    }
    if (isErrno(err, 'ELOOP')) return pathRefused(dir.path, dir.hierarchy, `${file} is a symlink`);
    return kernelError(err, message, { path: dir.path, file, hierarchy: hierarchyLabel(dir.hierarchy), ...(value !== undefined ? { value } : {}) });
  }

  private mountFacts(h: CgroupHierarchy): MountFacts {
    const known = this.mounts.get(h);
    if (known) return known;
    if (!isAbsolute(h.mountPoint) || normalize(h.mountPoint) !== h.mountPoint) {
      throw new NsgateError('CGROUP_PATH_INVALID', `not a usable mount point: ${h.mountPoint}`, { mountPoint: h.mountPoint });
    }
    const st = lstatSync(h.mountPoint);
    if (!st.isDirectory()) throw new NsgateError('CGROUP_PATH_INVALID', `mount point ${h.mountPoint} is not a directory`, { mountPoint: h.mountPoint });
    if (!this.fixture) this.checkMagic(h, h.mountPoint, '/');
    let mountId = 0;
    if (!this.fixture) {
      const fd = openSync(h.mountPoint, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      try {
        mountId = mountIdOf(this.procRoot, fd);
      } finally {
        closeSync(fd);
      }
    }
    const facts = { dev: st.dev, mountId };
    this.mounts.set(h, facts);
    return facts;
  }

  private checkMagic(h: CgroupHierarchy, fsPath: string, path: string): void {
    let type: number;
    try {
      type = statfsSync(fsPath).type;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new NsgateError('CGROUP_GONE', `cgroup ${path} disappeared`, { path });
      throw kernelError(err, `cannot statfs ${path}`, { path });
    }
    if (type !== magicOf(h)) throw pathRefused(path, h, `not on a cgroup v${h.version} filesystem`);
  }
}

/** One checked cgroup directory in one hierarchy. */
export class CgroupDir {
  constructor(
    private readonly files: CgroupFiles,
    readonly hierarchy: CgroupHierarchy,
    readonly path: string,
    readonly fsPath: string,
  ) {}

  /** The file's text, or null when this cgroup has no such file (controller not there, old kernel). */
  readOptional(file: string): string | null {
    return this.files.readOptional(this, file);
  }

  read(file: string): string {
    const text = this.readOptional(file);
    if (text === null) {
      throw new NsgateError('CONTROLLER_UNAVAILABLE', `${this.path} has no ${file} in ${hierarchyLabel(this.hierarchy)}`, {
        path: this.path,
        file,
        hierarchy: hierarchyLabel(this.hierarchy),
      });
    }
    return text;
  }

  has(file: string): boolean {
    assertFileName(file);
    try {
      return lstatSync(join(this.fsPath, file)).isFile();
    } catch {
      return false;
    }
  }

  write(file: string, value: string): Promise<void> {
    return this.files.write(this, file, value);
  }

  children(): string[] {
    return this.files.children(this);
  }
}

/** The mount id of an open fd ("mnt_id:" of /proc/self/fdinfo/N, there since Linux 3.15). */
function mountIdOf(procRoot: string, fd: number): number {
  const text = readFileSync(join(procRoot, 'self', 'fdinfo', String(fd)), 'latin1');
  const m = /^mnt_id:\s*(\d+)$/m.exec(text);
  if (!m) throw new NsgateError('INTERNAL', 'the kernel does not report mount ids (/proc/self/fdinfo has no mnt_id)');
  return Number(m[1]);
}

/** Where mount `id` is mounted, from /proc/self/mountinfo; only for error messages. */
function mountPointOf(procRoot: string, id: number): string | undefined {
  try {
    const line = readFileSync(join(procRoot, 'self', 'mountinfo'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${id} `));
    const field = line?.split(' ')[4];
    return field?.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  } catch {
    return undefined;
  }
}

function magicOf(h: CgroupHierarchy): number {
  return h.version === 2 ? CGROUP2_SUPER_MAGIC : CGROUP_SUPER_MAGIC;
}

/** The cgroup path below the hierarchy's mounted root, or null when the mount does not show it. */
function relativeToRoot(h: CgroupHierarchy, path: string): string | null {
  if (h.root === '/' || h.root === '') return path;
  if (path === h.root) return '/';
  if (path.startsWith(`${h.root}/`)) return path.slice(h.root.length);
  return null;
}

function assertFileName(file: string): void {
  if (!FILE_NAME.test(file)) throw new NsgateError('CGROUP_PATH_INVALID', 'not a cgroup file name', { file });
}

function pathRefused(path: string, h: CgroupHierarchy, reason: string): NsgateError {
  return new NsgateError('CGROUP_PATH_INVALID', `cgroup path ${path} refused: ${reason}`, { path, hierarchy: hierarchyLabel(h), reason });
}

function gone(dir: CgroupDir): NsgateError {
  return new NsgateError('CGROUP_GONE', `cgroup ${dir.path} disappeared`, { path: dir.path, hierarchy: hierarchyLabel(dir.hierarchy) });
}

function kernelError(err: unknown, message: string, details: Record<string, unknown>): NsgateError {
  if (err instanceof NsgateError) return err;
  const errno = errnoOf(err);
  const code = errnoToCode(errno) ?? 'INTERNAL';
  const withErrno = errno ? { ...details, errno } : details;
  return new NsgateError(code === 'NOT_FOUND' ? 'CGROUP_GONE' : code, errno ? `${message} (${errno})` : message, withErrno);
}
