#!/usr/bin/env node
// Builds the initramfs of the nsgate test VM as two cpio (newc) archives, one after the
// other in a single file, which the kernel unpacks in order:
//
//   base layer     /init, a static busybox and its applet links, the host's node binary
//                  (stripped) with every library ldd lists and the dynamic loader. Slow to
//                  make (~100 MB), so it is cached in .vm-cache/initramfs/ and rebuilt only
//                  when one of its inputs changes.
//   project layer  the files the test needs, mirrored under /app at their repo-relative
//                  paths (dist/kernel/..., test/vm/guest/...), plus /app/package.json so
//                  .js files load as ES modules. Small; cached by content hash.
//
// The archive is written by this script (no cpio binary needed), which also lets it hold
// /dev/console without root: the kernel opens it for init before devtmpfs is mounted.
//
// Uncompressed by default: under tcg the guest's gunzip of ~35 MB takes longer than qemu
// copying ~100 MB into guest memory (measured; see test/vm/README.md).
//
// Usage: node scripts/vm/build-initramfs.mjs [--gzip] PATH... [SRC=DEST]...
//   PATH is repo-relative and lands at /app/PATH; SRC=DEST puts any file at /app/DEST.
//   Prints the initrd path.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
const BUILDER_VERSION = '1';

function log(msg) {
  if (process.env.NSGATE_VM_QUIET !== '1') process.stderr.write(`build-initramfs: ${msg}\n`);
}

function cacheDir() {
  return process.env.NSGATE_VM_CACHE ?? path.join(repoRoot, '.vm-cache');
}

// ---- cpio newc writer -------------------------------------------------------------------

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

class CpioWriter {
  constructor(file) {
    this.fd = fs.openSync(file, 'w');
    this.ino = 1;
    this.offset = 0;
    this.seen = new Set();
  }

  #write(buf) {
    let done = 0;
    while (done < buf.length) done += fs.writeSync(this.fd, buf, done, buf.length - done);
    this.offset += buf.length;
  }

  #pad() {
    const rest = this.offset % 4;
    if (rest) this.#write(Buffer.alloc(4 - rest));
  }

  #entry(name, mode, data, { rdevMajor = 0, rdevMinor = 0 } = {}) {
    const hex = (n) => n.toString(16).padStart(8, '0');
    const nameBuf = Buffer.from(name + '\0');
    const header =
      '070701' +
      [this.ino++, mode, 0, 0, mode & S_IFDIR ? 2 : 1, 0, data.length, 0, 0, rdevMajor, rdevMinor, nameBuf.length, 0]
        .map(hex)
        .join('');
    this.#write(Buffer.from(header, 'ascii'));
    this.#write(nameBuf);
    this.#pad();
    if (data.length) {
      this.#write(data);
      this.#pad();
    }
  }

  /** Creates every missing parent of `name` (a path without the leading slash). */
  #parents(name) {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) this.dir(parts.slice(0, i).join('/'));
  }

  dir(name, mode = 0o755) {
    if (!name || this.seen.has(name)) return;
    this.#parents(name);
    this.seen.add(name);
    this.#entry(name, S_IFDIR | mode, Buffer.alloc(0));
  }

  file(name, data, mode = 0o644) {
    this.#parents(name);
    this.seen.add(name);
    this.#entry(name, S_IFREG | mode, data);
  }

  symlink(name, target) {
    this.#parents(name);
    this.seen.add(name);
    this.#entry(name, S_IFLNK | 0o777, Buffer.from(target));
  }

  chardev(name, major, minor, mode = 0o600) {
    this.#parents(name);
    this.seen.add(name);
    this.#entry(name, S_IFCHR | mode, Buffer.alloc(0), { rdevMajor: major, rdevMinor: minor });
  }

  close() {
    this.#entry('TRAILER!!!', 0, Buffer.alloc(0));
    // The kernel reads concatenated archives; keep each one 512-byte aligned like cpio(1).
    const rest = this.offset % 512;
    if (rest) this.#write(Buffer.alloc(512 - rest));
    fs.closeSync(this.fd);
  }
}

// ---- helpers ----------------------------------------------------------------------------

function sha256(...parts) {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? p : Buffer.from(p)).update('\0');
  return h.digest('hex').slice(0, 16);
}

function statKey(file) {
  const st = fs.statSync(file);
  return `${fs.realpathSync(file)}:${st.size}:${st.mtimeMs}`;
}

/** Writes `file` via a temporary name and rename, so parallel builders never see half a file. */
function atomically(file, write) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    write(tmp);
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function isStatic(file) {
  try {
    execFileSync('ldd', [file], { stdio: 'pipe' });
    return false;
  } catch {
    return true; // "not a dynamic executable"
  }
}

/** A static busybox: the host's if it is Debian's busybox-static, else from the .deb, cached. */
function findBusybox() {
  for (const candidate of ['/bin/busybox', '/usr/bin/busybox']) {
    if (fs.existsSync(candidate) && isStatic(candidate)) return candidate;
  }
  const dir = path.join(cacheDir(), 'busybox');
  const bin = path.join(dir, 'bin', 'busybox');
  if (fs.existsSync(bin)) return bin;
  log('downloading busybox-static');
  const tmp = fs.mkdtempSync(path.join(cacheDir(), '.busybox-'));
  try {
    const download = () =>
      execFileSync('apt-get', ['download', '-qq', '-o', 'APT::Sandbox::User=root', 'busybox-static'], {
        cwd: tmp,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    try {
      download();
    } catch {
      // A fresh machine may have no package lists yet.
      log('apt-get update');
      execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'] });
      download();
    }
    const deb = fs.readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download busybox-static produced no .deb');
    execFileSync('dpkg-deb', ['-x', path.join(tmp, deb), path.join(tmp, 'x')]);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(path.join(tmp, 'x'), dir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (!isStatic(bin)) throw new Error(`${bin} is not static`);
  return bin;
}

/** Every library the binary loads, as ldd names them (and the loader at its absolute path). */
function sharedLibraries(binary) {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs = [];
  for (const line of out.split('\n')) {
    const m = line.match(/=>\s*(\/\S+)/) ?? line.match(/^\s*(\/\S+)\s*\(/);
    if (m) libs.push(m[1]);
  }
  return libs;
}

// ---- layers -----------------------------------------------------------------------------

function buildBase(dir) {
  const nodeBin = process.execPath;
  const busybox = findBusybox();
  const libs = sharedLibraries(nodeBin);
  const initScript = path.join(here, 'init.sh');
  const key = sha256(
    BUILDER_VERSION,
    fs.readFileSync(fileURLToPath(import.meta.url)),
    fs.readFileSync(initScript),
    statKey(nodeBin),
    statKey(busybox),
    ...libs.map(statKey),
  );
  const out = path.join(dir, `base-${key}.cpio`);
  if (fs.existsSync(out)) return { file: out, key, built: false };

  log(`building base layer ${key} (node ${process.version}, ${libs.length} libraries)`);
  atomically(out, (tmp) => {
    // The node binary carries ~12 MB of debug info that the guest would only copy around.
    const strippedNode = `${tmp}.node`;
    try {
      execFileSync('strip', ['--strip-all', '-o', strippedNode, nodeBin]);
    } catch {
      fs.copyFileSync(nodeBin, strippedNode);
    }
    const w = new CpioWriter(tmp);
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'dev', 'proc', 'sys', 'tmp', 'etc', 'root', 'app', 'run']) {
      w.dir(d, d === 'tmp' ? 0o1777 : 0o755);
    }
    w.chardev('dev/console', 5, 1);
    w.chardev('dev/null', 1, 3, 0o666);
    w.file('etc/passwd', Buffer.from('root:x:0:0:root:/root:/bin/sh\n'));
    w.file('etc/group', Buffer.from('root:x:0:\n'));
    w.file('init', fs.readFileSync(initScript), 0o755);

    w.file('bin/busybox', fs.readFileSync(busybox), 0o755);
    const applets = execFileSync(busybox, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const applet of applets) {
      if (applet !== 'bin/busybox' && applet !== 'init') w.symlink(applet, '/bin/busybox');
    }

    w.file('usr/bin/node', fs.readFileSync(strippedNode), 0o755);
    fs.rmSync(strippedNode, { force: true });
    for (const lib of libs) {
      // Stored under the name ldd prints (the loader looks there), with the symlink's target content.
      w.file(lib.replace(/^\//, ''), fs.readFileSync(lib), 0o755);
    }
    w.close();
  });
  return { file: out, key, built: true };
}

/** Normalizes the file list: repo-relative paths (files or directories) or {src, dest}. */
function projectFiles(entries) {
  const files = [];
  const add = (src, dest, mode = 0o644) => {
    const st = fs.statSync(src);
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(src).sort()) add(path.join(src, name), `${dest}/${name}`, mode);
    } else if (st.isFile() && !src.endsWith('.map')) {
      files.push({ src, dest, mode });
    }
  };
  for (const e of entries) {
    if (typeof e === 'string') {
      const src = path.resolve(repoRoot, e);
      add(src, path.relative(repoRoot, src).split(path.sep).join('/'));
    } else {
      add(path.resolve(e.src), e.dest.replace(/^\/+/, ''), e.mode);
    }
  }
  return files;
}

function buildProject(dir, entries) {
  const files = projectFiles(entries);
  const pkg = Buffer.from(JSON.stringify({ name: 'nsgate-vm', private: true, type: 'module' }) + '\n');
  const key = sha256(
    BUILDER_VERSION,
    pkg,
    ...files.flatMap((f) => [f.dest, f.mode.toString(8), createHash('sha256').update(fs.readFileSync(f.src)).digest('hex')]),
  );
  const out = path.join(dir, `project-${key}.cpio`);
  if (fs.existsSync(out)) return { file: out, key, built: false, count: files.length };
  atomically(out, (tmp) => {
    const w = new CpioWriter(tmp);
    w.file('app/package.json', pkg);
    for (const f of files) w.file(`app/${f.dest}`, fs.readFileSync(f.src), f.mode);
    w.close();
  });
  return { file: out, key, built: true, count: files.length };
}

/** Removes cached layers other than the ones just used, so .vm-cache/ does not grow. */
function prune(dir, keep) {
  for (const name of fs.readdirSync(dir)) {
    const full = path.join(dir, name);
    if (keep.has(full) || name.includes('.tmp-')) continue;
    if (/^(base|project|initrd)-.*\.(cpio|img)(\.gz)?$/.test(name)) {
      const age = Date.now() - fs.statSync(full).mtimeMs;
      if (age > 10 * 60_000) fs.rmSync(full, { force: true }); // leave a parallel run's files alone
    }
  }
}

/**
 * Builds (or reuses) the initramfs holding `files` under /app.
 * @param {{ files: Array<string | { src: string, dest: string }>, gzip?: boolean }} options
 */
export function buildInitramfs({ files, gzip = false }) {
  const dir = path.join(cacheDir(), 'initramfs');
  fs.mkdirSync(dir, { recursive: true });
  const started = Date.now();
  const base = buildBase(dir);
  const project = buildProject(dir, files);
  const initrd = path.join(dir, `initrd-${base.key}-${project.key}${gzip ? '.img.gz' : '.img'}`);
  if (!fs.existsSync(initrd)) {
    atomically(initrd, (tmp) => {
      if (gzip) {
        // Two gzip members back to back: the kernel unpacks each in turn.
        const parts = [base.file, project.file].map((f) => zlib.gzipSync(fs.readFileSync(f), { level: 1 }));
        fs.writeFileSync(tmp, Buffer.concat(parts));
      } else {
        fs.copyFileSync(base.file, tmp);
        fs.appendFileSync(tmp, fs.readFileSync(project.file));
      }
    });
  } else {
    const now = new Date();
    fs.utimesSync(initrd, now, now);
  }
  for (const f of [base.file, project.file]) {
    const now = new Date();
    fs.utimesSync(f, now, now);
  }
  prune(dir, new Set([base.file, project.file, initrd]));
  return {
    initrd,
    baseBuilt: base.built,
    projectBuilt: project.built,
    projectFiles: project.count,
    bytes: fs.statSync(initrd).size,
    ms: Date.now() - started,
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const gzip = args.includes('--gzip');
  const files = args
    .filter((a) => a !== '--gzip')
    .map((a) => (a.includes('=') ? { src: a.slice(0, a.indexOf('=')), dest: a.slice(a.indexOf('=') + 1) } : a));
  const result = buildInitramfs({ files, gzip });
  log(JSON.stringify(result));
  process.stdout.write(result.initrd + '\n');
}
