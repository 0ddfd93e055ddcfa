import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CgroupSystem } from '../../src/kernel/cgroups/system.js';
import { NamespaceExecutor, openHelper } from '../../src/kernel/exec/index.js';
import { SandboxManager } from '../../src/kernel/sandbox/index.js';
import { startTestApp, type TestApp } from './support/app.js';
import { cgroupParent, makeTestCgroup, type TestCgroup } from './support/cgroups.js';
import { docker, removeContainer, runContainer, TEST_IMAGE, type TestContainer } from './support/docker.js';
import { refusal } from './support/errors.js';
import { repoRoot } from './support/harness.js';

/*
 * Issue 12: an exec runs with the target's confinement unless `privileged: true` is asked for.
 * On the real engine: the exec'd command's /proc/self/status and /proc/self/cgroup equal the
 * container's init process's, for a default container and one with --cap-add, a custom seccomp
 * profile and --user 1000; a program planted where `ps` is found cannot do what the container
 * cannot; privileged gets host root and is audited so; viewer and operator are refused both.
 */

const STATUS_FIELDS = ['Uid', 'Gid', 'Groups', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp', 'Seccomp_filters'];
const scratch = mkdtempSync(join(tmpdir(), 'nsgate-confine-e2e-'));
const PROFILE = join(scratch, 'seccomp.json');
const PLANT_SOURCE = join(scratch, 'plant.c');
const PLANT = join(scratch, 'ps');

/** The status lines the issue names, as one text. */
function statusFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_]+):\s*(.*)$/.exec(line);
    if (m && STATUS_FIELDS.includes(m[1]!)) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

// What the planted `ps` tries: what a container's root cannot do. Each result is the errno name (or "ok").
const PLANT_C = `
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
static const char *res(int r) { return r < 0 ? strerrorname_np(errno) : "ok"; }
int main(void) {
  char image[64] = {0}; /* not a module: with the capability init_module gets past the check and fails ENOEXEC */
  mkdir("/planted-mnt", 0755);
  printf("mount=%s\\n", res(mount("none", "/planted-mnt", "tmpfs", 0, NULL)));
  printf("module=%s\\n", res((int)syscall(SYS_init_module, image, sizeof image, "")));
  printf("environ=%s\\n", res(open("/proc/1/environ", O_RDONLY)));
  return 0;
}
`;

describe('exec with the target\'s confinement (kernel layer, real engine)', () => {
  let cgroups: CgroupSystem;
  let executor: NamespaceExecutor;
  let plain: TestContainer;
  let hardened: TestContainer;
  let hostPid: TestContainer;

  beforeAll(async () => {
    execFileSync('bash', [join(repoRoot, 'scripts/build-native.sh')], { stdio: 'inherit' });
    cgroups = CgroupSystem.fromHost({ managed: [cgroupParent()] });
    executor = new NamespaceExecutor({ cgroups, cgroupParent: `${cgroupParent()}/confine-exec` });
    // Everything allowed but chmod: a filter that is not Docker's, so copying it is visible.
    writeFileSync(PROFILE, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod', 'fchmod', 'fchmodat'], action: 'SCMP_ACT_ERRNO' }] }));
    writeFileSync(PLANT_SOURCE, PLANT_C);
    execFileSync('cc', ['-static', '-O2', '-o', PLANT, PLANT_SOURCE]);
    [plain, hardened, hostPid] = await Promise.all([
      runContainer('confine-plain', [TEST_IMAGE, 'sh', '-c', 'sleep 600 & wait']),
      runContainer('confine-hard', ['--cap-add', 'NET_ADMIN', '--cap-add', 'SYS_PTRACE', '--security-opt', `seccomp=${PROFILE}`, '--user', '1000', '--env', 'GREETING=hello', TEST_IMAGE, 'sh', '-c', 'sleep 600 & wait']),
      // Shares the host's pid namespace: its /proc/1 is the host's init.
      runContainer('confine-hostpid', ['--pid', 'host', TEST_IMAGE, 'sh', '-c', 'sleep 600 & wait']),
    ]);
  }, 60_000);

  afterAll(async () => {
    await executor?.close();
    await Promise.all([plain, hardened, hostPid].filter(Boolean).map((c) => removeContainer(c.id)));
    const parent = `${cgroupParent()}/confine-exec`;
    if (cgroups?.exists(parent)) await cgroups.delete(parent).catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  });

  for (const which of ['default', '--cap-add, seccomp profile, --user 1000'] as const) {
    it(`${which}: the command's status fields and cgroups equal the container's init process's`, async () => {
      const c = which === 'default' ? plain : hardened;
      const pin = executor.pin(c.pid);
      const status = await executor.exec(pin, { argv: ['cat', '/proc/self/status'] });
      const cgroup = await executor.exec(pin, { argv: ['cat', '/proc/self/cgroup'] });
      expect(status.exitCode).toBe(0);
      const init = statusFields(readFileSync(`/proc/${c.pid}/status`, 'utf8'));
      expect(Object.keys(init).sort()).toEqual([...STATUS_FIELDS].sort());
      expect(statusFields(status.stdout)).toEqual(init);
      expect(cgroup.stdout).toBe(readFileSync(`/proc/${c.pid}/cgroup`, 'utf8'));
      expect(status.confinement).toMatchObject({ mode: 'target', seccomp: { mode: 2, filters: Number(init.Seccomp_filters) }, noNewPrivs: false });
      if (c === hardened) {
        expect(init.Uid).toBe('1000\t1000\t1000\t1000');
        expect(BigInt(`0x${init.CapBnd!}`) & (1n << 12n)).toBe(1n << 12n); // CAP_NET_ADMIN added
      }
    });
  }

  it('the custom seccomp profile is the one applied: chmod is refused inside, as in the container', async () => {
    const pin = executor.pin(hardened.pid);
    const confined = await executor.exec(pin, { argv: ['sh', '-c', 'touch /tmp/x && chmod 600 /tmp/x'] });
    expect(confined.exitCode).not.toBe(0);
    expect(confined.stderr).toMatch(/Operation not permitted/);
    const inContainer = await docker(['exec', hardened.id, 'sh', '-c', 'touch /tmp/y && chmod 600 /tmp/y; echo $?']);
    expect(inContainer).not.toBe('0');
  });

  it('a program planted where ps is found cannot mount, load a module or read the host init\'s environment; privileged can mount', async () => {
    // /bin/ps is a symlink to busybox: replaced by a file of its own, not written through.
    for (const c of [plain, hostPid]) {
      await docker(['exec', c.id, 'rm', '/bin/ps']);
      await docker(['cp', PLANT, `${c.id}:/bin/ps`]);
    }
    const confined = await executor.exec(executor.pin(plain.pid), { argv: ['ps'] });
    expect(confined.stdout).toMatch(/^mount=EPERM$/m);
    expect(confined.stdout).toMatch(/^module=EPERM$/m);
    // The host's pid 1, seen through a container that shares the host's pid namespace.
    const host = await executor.exec(executor.pin(hostPid.pid), { argv: ['ps'] });
    expect(host.stdout).toMatch(/^environ=(EPERM|EACCES)$/m);
    expect(host.stdout).toMatch(/^mount=EPERM$/m);
    // nsenter's semantics, on purpose: host root with every capability in the same namespaces.
    const privileged = await executor.exec(executor.pin(plain.pid), { argv: ['ps'], privileged: true });
    expect(privileged.stdout).toMatch(/^mount=ok$/m);
    expect(privileged.stdout).toMatch(/^module=(?!EPERM)\w+$/m);
    expect(privileged.confinement).toEqual({ mode: 'privileged' });
  });

  it('privileged: true runs as host root with every capability, outside the container\'s cgroups, as before', async () => {
    const result = await executor.exec(executor.pin(plain.pid), { argv: ['cat', '/proc/self/status'], privileged: true });
    const fields = statusFields(result.stdout);
    const own = statusFields(readFileSync('/proc/self/status', 'utf8'));
    expect(fields.Uid).toBe('0\t0\t0\t0');
    expect(fields.CapEff).toBe(own.CapEff);
    expect(fields.Seccomp).toBe('0');
  });

  it('a timeout kills a confined command (its process group), though it runs in the container\'s cgroups', async () => {
    const result = await executor.exec(executor.pin(plain.pid), { argv: ['sh', '-c', 'sleep 30 & sleep 31'], timeoutMs: 300 });
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
    const left = await docker(['exec', plain.id, 'ps', '-o', 'args']).catch(() => '');
    expect(left).not.toMatch(/sleep 3[01]/);
  });

  it('a root target holding fewer capabilities than root regains at execve is refused (409), never run with more', async () => {
    // Root that dropped CAP_CHOWN from its permitted set after it started (as a daemon does).
    const source = join(scratch, 'dropper.c');
    writeFileSync(source, `#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  syscall(SYS_capget, &h, d);
  d[0].permitted &= ~1u; d[0].effective &= ~1u;
  if (syscall(SYS_capset, &h, d) < 0) return 1;
  for (;;) pause();
}
`);
    execFileSync('cc', ['-static', '-O2', '-o', join(scratch, 'dropper'), source]);
    const { spawn } = await import('node:child_process');
    const child = spawn(join(scratch, 'dropper'), [], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      expect(readFileSync(`/proc/${child.pid}/status`, 'utf8')).toMatch(/CapPrm:\s+\w+e\n/);
      const err = await refusal(executor.exec(executor.pin(child.pid!), { argv: ['true'], namespaces: ['uts'] }));
      expect(err.code).toBe('EXEC_CONFINEMENT_UNAVAILABLE');
      expect(err.details).toMatchObject({ part: 'capabilities' });
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('the helper itself', () => {
  it('is opened once: replacing or rewriting the file on disk afterwards changes nothing that runs', async () => {
    const dir = mkdtempSync(join(repoRoot, 'dist', 'helper-swap-'));
    chmodSync(dir, 0o755);
    const path = join(dir, 'nsgate-exec');
    copyFileSync(join(repoRoot, 'dist/native/nsgate-exec'), path);
    chmodSync(path, 0o755);
    const cgroups = CgroupSystem.fromHost({ managed: [cgroupParent()] });
    const executor = new NamespaceExecutor({ cgroups, cgroupParent: `${cgroupParent()}/swap-exec`, helperPath: path });
    try {
      expect(openHelper(path).execPath).toMatch(/^\/proc\/self\/fd\/\d+$/);
      // Rewritten in place, then replaced by rename: a script that would say "replaced".
      writeFileSync(path, '#!/bin/sh\necho replaced\n');
      const other = join(dir, 'other');
      writeFileSync(other, '#!/bin/sh\necho replaced\n');
      chmodSync(other, 0o755);
      execFileSync('mv', ['-f', other, path]);
      const self = process.pid;
      const result = await executor.exec(executor.pin(self), { argv: ['echo', 'original'], namespaces: ['uts'], privileged: true });
      expect(result.stdout).toBe('original\n');
    } finally {
      await executor.close();
      if (cgroups.exists(`${cgroupParent()}/swap-exec`)) await cgroups.delete(`${cgroupParent()}/swap-exec`).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is refused when a folder above it is writable by others', () => {
    const dir = mkdtempSync(join(tmpdir(), 'helper-open-'));
    mkdirSync(join(dir, 'bin'));
    chmodSync(dir, 0o777);
    copyFileSync(join(repoRoot, 'dist/native/nsgate-exec'), join(dir, 'bin', 'nsgate-exec'));
    try {
      expect(() => openHelper(join(dir, 'bin', 'nsgate-exec'))).toThrow(/writable by no one else/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is built hardened: a static PIE with full RELRO (readelf: DYN, BIND_NOW, GNU_RELRO, no interpreter)', () => {
    const binary = join(repoRoot, 'dist/native/nsgate-exec');
    expect(statSync(binary).uid).toBe(0);
    const header = execFileSync('readelf', ['-h', binary], { encoding: 'utf8' });
    const dynamic = execFileSync('readelf', ['-d', binary], { encoding: 'utf8' });
    const segments = execFileSync('readelf', ['-lW', binary], { encoding: 'utf8' });
    expect(header).toMatch(/Type:\s+DYN/);
    expect(dynamic).toMatch(/BIND_NOW/);
    expect(dynamic).toMatch(/FLAGS_1.*NOW.*PIE/);
    expect(segments).toMatch(/GNU_RELRO/);
    expect(segments).not.toMatch(/INTERP/);
    const symbols = execFileSync('readelf', ['-sW', binary], { encoding: 'utf8' });
    expect(symbols).toMatch(/__stack_chk_fail/);
    expect(symbols).toMatch(/__\w+_chk\b/); // _FORTIFY_SOURCE's checked calls
  });
});

describe('sandboxes with a user namespace', () => {
  let sandboxes: SandboxManager;
  let cgroups: CgroupSystem;
  const dir = mkdtempSync(join(tmpdir(), 'nsgate-userns-'));
  const rootFile = join(dir, 'root-owned');

  beforeAll(() => {
    chmodSync(dir, 0o755);
    writeFileSync(rootFile, 'host\n', { mode: 0o644 });
    cgroups = CgroupSystem.fromHost({ managed: [cgroupParent()] });
    sandboxes = new SandboxManager({ cgroups, parent: `${cgroupParent()}/userns-sandboxes` });
  });
  afterAll(async () => {
    await sandboxes?.close();
    if (cgroups?.exists(`${cgroupParent()}/userns-sandboxes`)) await cgroups.delete(`${cgroupParent()}/userns-sandboxes`).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('root inside is an unprivileged host uid: the map shows it, and a root-owned host file cannot be written', async () => {
    const { id } = await sandboxes.create({
      argv: ['sh', '-c', `cat /proc/self/uid_map; id -u; echo changed >> ${rootFile}; echo rc=$?`],
      userns: true,
      readOnlyRoot: false,
    });
    await sandboxes.wait(id, 20_000);
    const done = await sandboxes.delete(id);
    expect(done.stdout).toMatch(/^\s*0\s+1879048192\s+65536$/m);
    expect(done.stdout).toMatch(/^0$/m);
    expect(done.stdout).toMatch(/^rc=[1-9]$/m);
    expect(done.stderr).toMatch(/Permission denied/);
    expect(readFileSync(rootFile, 'utf8')).toBe('host\n');
    expect(done.userns).toEqual({ base: 1879048192, count: 65536 });
  });
});

describe('exec confinement through the API', () => {
  let t: TestApp;
  let db: TestContainer;
  let internal: TestCgroup;
  const post = (url: string, body: unknown, token = t.tokens.admin) => t.http().post(url).set('authorization', `Bearer ${token}`).send(body as object);

  beforeAll(async () => {
    internal = makeTestCgroup('confine-internal');
    db = await runContainer('confine-api', ['--env', 'GREETING=hello', TEST_IMAGE, 'sh', '-c', 'sleep 600 & wait']);
    t = await startTestApp({ NSGATE_INTERNAL_CGROUP: internal.path });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    if (db) await removeContainer(db.id);
    internal?.remove();
  });

  it('by default says it applied the target\'s confinement, starts from the container\'s environment, and is in the container\'s cgroups', async () => {
    const res = await post(`/v1/containers/${db.name}/exec`, { argv: ['sh', '-c', 'echo $GREETING; cat /proc/self/cgroup'] });
    expect(res.status).toBe(200);
    expect(res.body.stdout).toBe(`hello\n${readFileSync(`/proc/${db.pid}/cgroup`, 'utf8')}`);
    expect(res.body.confinement).toMatchObject({ mode: 'target', uid: [0, 0, 0, 0], capabilities: { bounding: '00000000a80425fb' }, seccomp: { mode: 2 }, noNewPrivs: false });
  });

  it('privileged: true is host root, and the audit log says privileged', async () => {
    const res = await post(`/v1/containers/${db.name}/exec`, { argv: ['grep', 'CapEff', '/proc/self/status'], privileged: true });
    expect(res.status).toBe(200);
    expect(res.body.stdout).toContain(readFileSync('/proc/self/status', 'utf8').match(/CapEff:.*/)![0]);
    expect(res.body.confinement).toEqual({ mode: 'privileged' });
    const lines = readFileSync(`${t.dataDir}/audit.log`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { action: string; stage: string; request?: { privileged?: boolean }; after?: { confinement?: { mode: string } } });
    const done = lines.filter((l) => l.action === 'container.exec' && l.stage === 'completed' && l.request?.privileged === true);
    expect(done.length).toBeGreaterThan(0);
    expect(done.at(-1)!.after!.confinement!.mode).toBe('privileged');
  });

  it('GraphQL exec answers the confinement too', async () => {
    const q = 'mutation($c: String) { exec(container: $c, command: {argv: ["id", "-u"]}) { stdout confinement { mode uid seccomp { mode filters } capabilities { effective } } } }';
    const res = await t.graphql(q, t.tokens.admin, { c: db.name });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!.exec).toMatchObject({ stdout: '0\n', confinement: { mode: 'target', seccomp: { mode: 2, filters: 1 }, capabilities: { effective: '00000000a80425fb' } } });
  });

  it('viewer and operator get 403 for both default and privileged exec, over REST and GraphQL', async () => {
    for (const token of [t.tokens.viewer, t.tokens.operator]) {
      for (const privileged of [false, true]) {
        expect((await post(`/v1/containers/${db.name}/exec`, { argv: ['true'], privileged }, token)).status).toBe(403);
        expect((await post(`/v1/processes/${db.pid}/exec`, { argv: ['true'], privileged }, token)).status).toBe(403);
        const res = await t.graphql(`mutation { exec(pid: ${db.pid}, command: {argv: ["true"], privileged: ${privileged}}) { exitCode } }`, token);
        expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      }
    }
  });

  it('a part that cannot be reproduced is a 409 naming it, and nothing runs', async () => {
    // A process in strict seccomp mode: no command can start under it.
    const strict = join(mkdtempSync(join(tmpdir(), 'nsgate-strict-')), 'strict');
    writeFileSync(`${strict}.c`, '#include <linux/seccomp.h>\n#include <sys/prctl.h>\n#include <unistd.h>\nint main(void){prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT); for(;;) read(0, (char[1]){0}, 1);}\n');
    execFileSync('cc', ['-static', '-O2', '-o', strict, `${strict}.c`]);
    const { spawn } = await import('node:child_process');
    const child = spawn(strict, [], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const res = await post(`/v1/processes/${child.pid}/exec`, { argv: ['true'] });
      expect(res.status).toBe(409);
      expect(res.body.error).toMatchObject({ code: 'EXEC_CONFINEMENT_UNAVAILABLE', details: { part: 'seccomp' } });
    } finally {
      child.kill('SIGKILL');
      rmSync(join(strict, '..'), { recursive: true, force: true });
      rmSync(join(strict, '..'), { recursive: true, force: true });
    }
  });
});
