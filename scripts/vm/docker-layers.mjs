// The extra initramfs layers of the Docker guest (test/vm/docker-v2.vm.ts), each cached by
// content in .vm-cache/initramfs/ by build-initramfs.mjs:
//
//   docker   dockerd, containerd, containerd-shim-runc-v2, runc, docker-init and docker from
//            Debian's docker.io (the host's files) with every library ldd lists, /var/lib and
//            /var/run -> /run, and the test image as a `docker save` tarball from the private
//            engine at /images/test-image.tar (the tarball is cached by image id).
//   modules  the production node_modules nsgate's dist/main.js needs, from
//            `npm ls --omit=dev --parseable --long --all` (not extraneous ones; no .d.ts, .ts, .map, .md), under
//            /app/node_modules. typescript is left out: only the build-time compiler plugins of
//            @nestjs/graphql and @nestjs/swagger load it (it is their peer dependency).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot, sharedLibraries } from './build-initramfs.mjs';

/** The Debian docker.io files the guest runs, and where they land. */
const DOCKER_BINARIES = [
  ['/usr/sbin/dockerd', '/usr/bin/dockerd'],
  ['/usr/bin/containerd', '/usr/bin/containerd'],
  ['/usr/bin/containerd-shim-runc-v2', '/usr/bin/containerd-shim-runc-v2'],
  ['/usr/sbin/runc', '/usr/bin/runc'],
  ['/usr/bin/docker-init', '/usr/bin/docker-init'],
  // /usr/bin/docker is docker.io's CLI (a /usr/local/bin/docker may be another build)
  ['/usr/bin/docker', '/usr/bin/docker'],
];

export const TEST_IMAGE = 'nsgate/busybox:test';
export const GUEST_IMAGE_TAR = '/images/test-image.tar';

function cacheDir() {
  return process.env.NSGATE_VM_CACHE ?? path.join(repoRoot, '.vm-cache');
}

function log(msg) {
  if (process.env.NSGATE_VM_QUIET !== '1') process.stderr.write(`docker-layers: ${msg}\n`);
}

/** The test image as a `docker save` tarball from `dockerHost`, cached by image id. */
export function savedTestImage(dockerHost = process.env.DOCKER_HOST ?? 'unix:///run/nsgate-test/docker.sock') {
  const docker = (args, opts = {}) => execFileSync('/usr/bin/docker', ['-H', dockerHost, ...args], { encoding: 'utf8', ...opts });
  // The image the e2e global setup builds; a fresh checkout may run this test first.
  // build-test-image.sh is idempotent and takes a lock, so both may ask for it.
  execFileSync('bash', [path.join(repoRoot, 'docker/build-test-image.sh'), '--install'], { stdio: 'pipe', env: { ...process.env, DOCKER_HOST: dockerHost } });
  const id = docker(['image', 'inspect', '--format', '{{.Id}}', TEST_IMAGE]).trim();
  const dir = path.join(cacheDir(), 'docker');
  const file = path.join(dir, `image-${id.replace(/^sha256:/, '').slice(0, 16)}.tar`);
  if (fs.existsSync(file)) return { file, id };
  fs.mkdirSync(dir, { recursive: true });
  for (const old of fs.readdirSync(dir)) if (/^image-.*\.tar$/.test(old)) fs.rmSync(path.join(dir, old), { force: true });
  log(`docker save ${TEST_IMAGE} (${id})`);
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    docker(['save', '-o', tmp, TEST_IMAGE], { stdio: ['ignore', 'ignore', 'inherit'] });
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return { file, id };
}

/** @returns {import('./build-initramfs.d.mts').InitramfsLayer} */
export function dockerLayer(options = {}) {
  const entries = [
    { dest: '/var', dir: true },
    { dest: '/var/lib', dir: true },
    { dest: '/var/run', symlink: '/run' },
    { dest: '/etc/docker', dir: true },
    // containerd started by /init: no CRI plugin (Kubernetes' API; it only slows the start)
    { dest: '/etc/containerd/config.toml', data: Buffer.from('version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n') },
    { dest: '/etc/hosts', data: Buffer.from('127.0.0.1 localhost\n::1 localhost\n') },
    { dest: '/etc/resolv.conf', data: Buffer.from('') },
  ];
  const libs = new Set();
  for (const [src, dest] of DOCKER_BINARIES) {
    if (!fs.existsSync(src)) throw new Error(`${src} is missing: install docker.io (apt-get install docker.io)`);
    entries.push({ dest, src: fs.realpathSync(src), mode: 0o755 });
    try {
      execFileSync('ldd', [src], { stdio: 'pipe' });
    } catch {
      continue; // static: "not a dynamic executable" (docker-init is tini-static)
    }
    for (const lib of sharedLibraries(src)) libs.add(lib);
  }
  for (const lib of [...libs].sort()) entries.push({ dest: lib, src: fs.realpathSync(lib), mode: 0o755 });
  const image = savedTestImage(options.dockerHost);
  entries.push({ dest: GUEST_IMAGE_TAR, src: image.file });
  return { name: 'docker', entries };
}

/** The files of nsgate's production dependencies, as {src, dest} under /app/node_modules. */
function productionModuleFiles() {
  const modules = fs.realpathSync(path.join(repoRoot, 'node_modules'));
  // npm ls exits 1 on "problems" (an extraneous or invalid package in node_modules) but still
  // prints the tree: what the lock file says production needs is all this layer wants.
  const ls = spawnSync('npm', ['ls', '--omit=dev', '--parseable', '--long', '--all'], {
    cwd: repoRoot,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = ls.stdout ?? '';
  if (ls.error || !out.trim()) throw new Error(`npm ls --omit=dev --parseable --long --all failed: ${ls.error?.message ?? ls.stderr}`);
  // --long lines: PATH:NAME@VERSION[:EXTRANEOUS|:INVALID...]; an extraneous package is nobody's dependency
  const dirs = [
    ...new Set(
      out
        .split('\n')
        .filter((line) => line && !/:EXTRANEOUS\b/.test(line))
        .map((line) => fs.realpathSync(line.split(':')[0])),
    ),
  ].filter((d) => d.startsWith(modules + path.sep));
  const files = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules') walk(full); // nested packages are entries of their own
      } else if (e.isFile() && !/\.(d\.[mc]?ts|[mc]?ts|map|md|markdown)$/i.test(e.name)) {
        files.push({ src: full, dest: `/app/node_modules/${path.relative(modules, full).split(path.sep).join('/')}` });
      }
    }
  };
  for (const dir of dirs) {
    const rel = path.relative(modules, dir).split(path.sep);
    if (rel.at(-1) === 'typescript') continue;
    walk(dir);
  }
  return files;
}

/** @returns {import('./build-initramfs.d.mts').InitramfsLayer} */
export function modulesLayer() {
  // The lock file npm keeps in node_modules changes whenever an install does: the cache key.
  const lock = [path.join(repoRoot, 'node_modules', '.package-lock.json'), path.join(repoRoot, 'package-lock.json')].find((f) => fs.existsSync(f));
  if (!lock) throw new Error('no package-lock.json: run npm ci');
  const key = createHash('sha256').update(fs.readFileSync(lock)).digest('hex').slice(0, 16);
  const listFile = path.join(cacheDir(), 'docker', `modules-${key}.json`);
  let files;
  if (fs.existsSync(listFile)) {
    files = JSON.parse(fs.readFileSync(listFile, 'utf8'));
  } else {
    files = productionModuleFiles();
    fs.mkdirSync(path.dirname(listFile), { recursive: true });
    fs.writeFileSync(listFile, JSON.stringify(files));
  }
  return { name: 'modules', key, entries: files.map((f) => ({ ...f, mode: 0o644 })) };
}
