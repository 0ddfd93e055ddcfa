import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CgroupSystem } from '../../src/kernel/cgroups/system.js';
import { NsgateError } from '../../src/kernel/errors.js';
import {
  defaultHelperPath,
  type ExecResult,
  type ExecStartInfo,
  hostNamespaceInodes,
  NamespaceExecutor,
  parseHelperLine,
  type ProcessPin,
  unsharedNamespaces,
} from '../../src/kernel/exec/index.js';
import { readProcessStat } from '../../src/kernel/procfs/index.js';
import { SandboxManager } from '../../src/kernel/sandbox/index.js';
import { cgroupDir, cgroupHierarchies } from './support/cgroupfs.js';
import { cgroupParent, makeTestCgroup } from './support/cgroups.js';
import { docker, removeContainer, runContainer, TEST_IMAGE, type TestContainer } from './support/docker.js';
import { repoRoot } from './support/harness.js';
import { refusal } from './support/errors.js';

/*
 * The exec worker and sandboxes on the real kernel and the private engine: the tutorial's
 * `nsenter --target $DBPID --mount --uts --ipc --net --pid ps aux` through the kernel layer,
 * no host descriptor in the command, a recycled pid never entered, timeouts and the output cap
 * kill the whole tree and its cgroup goes; and `unshare --fork --pid --mount-proc` as a
 * sandbox: PID 1 inside, OOM-killed at its memory limit, no capabilities, gone after delete.
 */

const log = (msg: string) => console.log(`[exec-kernel] ${msg}`);
const started: ChildProcess[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'nsgate-exec-e2e-'));
let cgroups: CgroupSystem;
let executor: NamespaceExecutor;
let sandboxes: SandboxManager;
let db: TestContainer;
let execParent: string;
let sandboxParent: string;


/** A process this test starts (and kills in afterAll, by its pid). */
function start(command: string, args: string[]): ChildProcess {
  const child = spawn(command, args, { stdio: 'ignore' });
  started.push(child);
  return child;
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function commOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Alive for our purpose: /proc/PID exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    return !['Z', 'X'].includes(readProcessStat(pid).state);
  } catch {
    return false;
  }
}

/** A sleeping process in its own uts namespace with a hostname of its own: what exec must land in. */
async function sleeperWithHostname(hostname: string): Promise<ChildProcess> {
  const child = start('unshare', ['--uts', 'sh', '-c', `hostname ${hostname} && exec sleep 60`]);
  await until(`${hostname} to sleep`, () => commOf(child.pid!) === 'sleep');
  return child;
}

/** The names in a `ls -1 /proc/self/fd` listing. */
const fdNames = (stdout: string) => stdout.split('\n').filter(Boolean).sort((a, b) => Number(a) - Number(b));

/** `ps` output as pid -> command (busybox: PID USER [TIME] COMMAND; procps: PID ... COMMAND). */
function psTable(stdout: string): Map<number, string> {
  const rows = new Map<number, string>();
  for (const line of stdout.split('\n').slice(1)) {
    const m = /^\s*(\d+)\s+\S+\s+(?:\d+:\d+\s+)?(.*)$/.exec(line);
    if (m) rows.set(Number(m[1]), m[2]!.trim());
  }
  return rows;
}

const unified = () => cgroupHierarchies().find((h) => h.version === 2);

/** A sandbox run to its end and deleted (the manager holds a bounded number): its last state and output. */
async function runSandbox(input: Record<string, unknown>) {
  const { id } = await sandboxes.create(input);
  await sandboxes.wait(id, 20_000);
  return sandboxes.delete(id);
}

beforeAll(async () => {
  execFileSync('bash', [join(repoRoot, 'scripts/build-native.sh')], { stdio: 'inherit' });
  const parent = cgroupParent();
  execParent = `${parent}/exec`;
  sandboxParent = `${parent}/sandboxes`;
  cgroups = CgroupSystem.fromHost({ managed: [parent] });
  executor = new NamespaceExecutor({ cgroups, cgroupParent: execParent });
  sandboxes = new SandboxManager({ cgroups, parent: sandboxParent, maxSandboxes: 8 });
  db = await runContainer('exec-db', [TEST_IMAGE, 'sh', '-c', 'sleep 600 & sleep 601 & wait']);
  log(`db ${db.name} pid ${db.pid}, helper ${executor.helperPath}`);
});

afterAll(async () => {
  await sandboxes?.close();
  await executor?.close();
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(started.map(exited));
  if (db) await removeContainer(db.id);
  for (const path of [execParent, sandboxParent]) {
    if (path && cgroups?.exists(path)) await cgroups.delete(path).catch((err: unknown) => log(`could not remove ${path}: ${(err as Error).message}`));
  }
  rmSync(scratch, { recursive: true, force: true });
});

describe('exec into a container (the tutorial\'s nsenter)', () => {
  it('`ps aux` in mnt, uts, ipc, net and pid shows only the container\'s processes, its first one as PID 1, like nsenter does', async () => {
    const pin = executor.pin(db.pid);
    const result = await executor.exec(pin, { argv: ['ps', 'aux'], namespaces: ['mnt', 'uts', 'ipc', 'net', 'pid'] });
    log(`ps aux through exec:\n${result.stdout}`);
    expect(result).toMatchObject({ exitCode: 0, signal: null, truncated: false, timedOut: false });
    const ours = psTable(result.stdout);
    expect(ours.get(1)).toBe('sh -c sleep 600 & sleep 601 & wait');
    const nsenter = psTable(
      execFileSync('nsenter', ['--target', String(db.pid), '--mount', '--uts', '--ipc', '--net', '--pid', 'ps', 'aux'], { encoding: 'utf8' }),
    );
    const withoutPs = (t: Map<number, string>) => [...t].filter(([, cmd]) => cmd !== 'ps aux').map(([pid, cmd]) => `${pid} ${cmd}`);
    expect(withoutPs(ours)).toEqual(withoutPs(nsenter));
    expect(withoutPs(ours)).toEqual(['1 sh -c sleep 600 & sleep 601 & wait', expect.stringMatching(/sleep 60[01]/), expect.stringMatching(/sleep 60[01]/)]);
    // The namespaces entered are the container's, inode for inode.
    expect(result.namespaces).toEqual({ ipc: pin.namespaces.ipc, mnt: pin.namespaces.mnt, net: pin.namespaces.net, pid: pin.namespaces.pid, uts: pin.namespaces.uts });
    expect(result.target).toMatchObject({ pid: db.pid, startTimeTicks: pin.startTimeTicks });
  });

  it('by default a container is entered in every namespace it does not share with the host', async () => {
    const pin = executor.pin(db.pid);
    const own = unsharedNamespaces(pin.namespaces, hostNamespaceInodes());
    expect(own).toEqual(expect.arrayContaining(['ipc', 'mnt', 'net', 'pid', 'uts']));
    const result = await executor.exec(pin, { argv: ['hostname'] }, { defaultNamespaces: own });
    expect(result.stdout.trim()).toBe(db.id.slice(0, 12));
    expect(Object.keys(result.namespaces).sort()).toEqual([...own].sort());
  });

  it('the command gets only descriptors 0, 1 and 2 (the fourth is ls\'s own), and they are pipes, no host file', async () => {
    const pin = executor.pin(db.pid);
    const names = await executor.exec(pin, { argv: ['ls', '-1', '/proc/self/fd'] });
    expect(fdNames(names.stdout)).toEqual(['0', '1', '2', '3']);
    // Naming a descriptor (/proc/self/fd/0) is refused by validation; the listing shows where 0-2 lead.
    const long = await executor.exec(pin, { argv: ['ls', '-l', '/proc/self/fd'] });
    log(`descriptors inside:\n${long.stdout}`);
    const targets = long.stdout
      .split('\n')
      .map((l) => / (\d+) -> (.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => `${m[1]} ${m[2]!.replace(/\d+/, 'N')}`);
    expect(targets).toEqual(['0 socket:[N]', '1 socket:[N]', '2 socket:[N]']);
  });

  it('descriptors handed to the helper itself do not reach the command either', async () => {
    const sleeper = await sleeperWithHostname('fds');
    const pin = executor.pin(sleeper.pid!);
    const extra = [openSync('/etc/hostname', 'r'), openSync(scratch, 'r')];
    try {
      const child = spawn(
        executor.helperPath,
        ['enter', '--pid', String(pin.pid), '--start-time', String(pin.startTimeTicks), '--ns', 'uts', '--', 'ls', '-1', '/proc/self/fd'],
        { stdio: ['ignore', 'pipe', 'inherit', 'pipe', extra[0]!, extra[1]!], env: {} },
      );
      let stdout = '';
      child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      (child.stdio[3] as NodeJS.ReadableStream).resume();
      await exited(child);
      expect(fdNames(stdout)).toEqual(['0', '1', '2', '3']);
    } finally {
      extra.forEach((fd) => closeSync(fd));
    }
  });

  it('a working directory that is a symlink to a descriptor in the container is refused (CVE-2024-21626), and /proc paths never pass validation', async () => {
    await docker(['exec', db.id, 'ln', '-sf', '/proc/self/fd/4', '/leak']);
    const pin = executor.pin(db.pid);
    const err = await refusal(executor.exec(pin, { argv: ['pwd'], cwd: '/leak' }));
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.details).toMatchObject({ field: 'cwd', stage: 'cwd' });
    expect((await refusal(executor.exec(pin, { argv: ['pwd'], cwd: '/proc/self/fd/4' }))).details).toMatchObject({ field: 'cwd' });
    expect((await refusal(executor.exec(pin, { argv: ['cat', '/proc/1/root/etc/passwd'] }))).details).toMatchObject({ field: 'argv' });
    const ok = await executor.exec(pin, { argv: ['pwd'], cwd: '/tmp' });
    expect(ok.stdout).toBe('/tmp\n');
  });

  it('the entering program is the host\'s helper, run from its absolute host path; the target\'s files only serve the command', async () => {
    const pin = executor.pin(db.pid);
    let info: ExecStartInfo | undefined;
    let helperExe = '';
    let commandExe = '';
    const result = await executor.exec(pin, { argv: ['sleep', '1'] }, {
      onStart: (i) => {
        info = i;
        helperExe = readlinkSync(`/proc/${i.helperPid}/exe`);
        // The command's pid is reported just before its execve: look once it has become the command.
        void until('the command to exec', () => commOf(i.commandPid) === 'sleep', 900).then(() => (commandExe = readlinkSync(`/proc/${i.commandPid}/exe`)));
      },
    });
    expect(result.exitCode).toBe(0);
    expect(info).toBeDefined();
    expect(executor.helperPath).toBe(defaultHelperPath());
    // The helper runs from the private copy opened at start (unlinked: nothing on disk can change it).
    expect(helperExe).toMatch(/\/nsgate-helper-[^/]+\/nsgate-exec \(deleted\)$/);
    // The command is the container's busybox (a path in its root), and the helper is not in the container at all.
    expect(commandExe).toBe('/bin/busybox');
    const missing = await executor.exec(pin, { argv: ['ls', executor.helperPath] });
    expect(missing.exitCode).not.toBe(0);
  });

  it('environment: PATH only unless the caller gives variables; no shell, argv as given', async () => {
    const pin = executor.pin(db.pid);
    const bare = await executor.exec(pin, { argv: ['env'] });
    expect(bare.stdout).toBe('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n');
    const given = await executor.exec(pin, { argv: ['env'], env: { GREETING: 'hello world', PATH: '/usr/bin' } });
    expect(given.stdout.split('\n').filter(Boolean).sort()).toEqual(['GREETING=hello world', 'PATH=/usr/bin']);
    const literal = await executor.exec(pin, { argv: ['echo', '$HOME;', '`id`', '|', 'cat'] });
    expect(literal.stdout).toBe('$HOME; `id` | cat\n');
  });

  it('runs as a given uid and gid, takes stdin, and says 127 for a command the target does not have', async () => {
    const pin = executor.pin(db.pid);
    const id = await executor.exec(pin, { argv: ['id'], user: '65534:65534' });
    expect(id.stdout).toMatch(/^uid=65534\(nobody\) gid=65534\(nobody\)/);
    const cat = await executor.exec(pin, { argv: ['cat'], stdin: 'from stdin\n' });
    expect(cat.stdout).toBe('from stdin\n');
    const missing = await executor.exec(pin, { argv: ['no-such-command'] });
    expect(missing).toMatchObject({ exitCode: 127, signal: null });
    expect(missing.stderr).toMatch(/cannot run no-such-command/);
  });
});

describe('a recycled pid is never entered', () => {
  it('a target that exits after it was pinned is PROCESS_GONE (410), and nothing runs', async () => {
    const target = start('sleep', ['60']);
    await until('sleep', () => commOf(target.pid!) === 'sleep');
    const pin = executor.pin(target.pid!);
    target.kill('SIGKILL');
    await exited(target);
    const marker = join(scratch, `gone-${randomBytes(4).toString('hex')}`);
    const err = await refusal(executor.exec(pin, { argv: ['mkdir', marker], namespaces: ['uts'] }));
    expect(err.code).toBe('PROCESS_GONE');
    expect(existsSync(marker)).toBe(false);
  });

  it('the helper checks the start time after it holds the pidfd: a pid now held by another process is refused', async () => {
    // The pid is live, but its start time is not the pinned one: exactly what a reused pid looks like.
    const other = await sleeperWithHostname('other');
    const stat = readProcessStat(other.pid!);
    const marker = join(scratch, `reused-${randomBytes(4).toString('hex')}`);
    const stale: ProcessPin = { ...executor.pin(other.pid!), startTimeTicks: stat.startTimeTicks - 1 };
    // Node refuses before spawning anything...
    expect((await refusal(executor.exec(stale, { argv: ['mkdir', marker], namespaces: ['uts'] }))).code).toBe('PROCESS_GONE');
    // ...and so does the helper on its own, run directly without Node's check.
    const out = execFileSync(
      'bash',
      ['-c', `"$0" enter --pid ${other.pid} --start-time ${stat.startTimeTicks - 1} --ns uts -- mkdir ${marker} 3>&1; echo "rc=$?"`, executor.helperPath],
      { encoding: 'utf8' },
    );
    const lines = out.trim().split('\n');
    expect(parseHelperLine(lines[0]!)).toMatchObject({ kind: 'error', stage: 'gone' });
    expect(lines.at(-1)).toBe('rc=125');
    expect(existsSync(marker)).toBe(false);
  });

  it('racing exec against the target\'s death: each exec lands in the pinned process\'s namespace or is PROCESS_GONE, never anywhere else', async () => {
    const hostHostname = execFileSync('hostname', { encoding: 'utf8' }).trim();
    const tally = { entered: 0, gone: 0 };
    for (let i = 0; i < 16; i++) {
      const name = `race-${i}`;
      const target = await sleeperWithHostname(name);
      const pin = executor.pin(target.pid!);
      const run = executor.exec(pin, { argv: ['hostname'], namespaces: ['uts'] }).then(
        (r: ExecResult) => r,
        (e: unknown) => e,
      );
      await new Promise((r) => setTimeout(r, i % 8));
      target.kill('SIGKILL');
      const outcome = await run;
      if (outcome instanceof NsgateError) {
        expect(outcome.code).toBe('PROCESS_GONE');
        tally.gone++;
      } else {
        const r = outcome as ExecResult;
        expect(r.stdout.trim()).toBe(name);
        expect(r.stdout.trim()).not.toBe(hostHostname);
        tally.entered++;
      }
      await exited(target);
    }
    log(`race: ${tally.entered} entered the pinned namespace, ${tally.gone} refused as gone`);
    expect(tally.entered + tally.gone).toBe(16);
  });

  it('a kernel thread is KERNEL_THREAD (409); a pid that does not exist is PROCESS_NOT_FOUND (404)', () => {
    expect(() => executor.pin(2)).toThrow(expect.objectContaining({ code: 'KERNEL_THREAD' }));
    expect(() => executor.pin(4_194_304)).toThrow(expect.objectContaining({ code: 'PROCESS_NOT_FOUND' }));
  });
});

describe('limits', () => {
  // The per-exec cgroup that ends a tree is the privileged path's; a confined command is in the target's cgroups (exec-confinement.e2e.ts).
  it('a timeout kills the whole process tree, and its cgroup is removed', async () => {
    const pin = executor.pin(db.pid);
    let info: ExecStartInfo | undefined;
    let tree: number[] = [];
    const watch = new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (!info) return;
        const procs = cgroupDir(unified()!, info.cgroupPath);
        try {
          tree = readFileSync(join(procs!, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
        } catch {
          // gone already
        }
        if (tree.length >= 3) {
          clearInterval(poll);
          resolve();
        }
      }, 20);
      setTimeout(() => {
        clearInterval(poll);
        resolve();
      }, 3000);
    });
    const result = await executor.exec(pin, { privileged: true, argv: ['sh', '-c', 'sleep 100 & sleep 100 & wait'], timeoutMs: 1000 }, { onStart: (i) => (info = i) });
    await watch;
    log(`timeout: ${JSON.stringify({ ...result, stdout: undefined })}, tree ${tree.join(' ')}`);
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL', exitCode: null });
    expect(result.durationMs).toBeGreaterThanOrEqual(1000);
    expect(result.durationMs).toBeLessThan(5000);
    expect(tree.length).toBeGreaterThanOrEqual(3); // sh and both sleeps were in the exec's cgroup
    for (const pid of tree) expect(alive(pid), `pid ${pid}`).toBe(false);
    await executor.settled();
    for (const h of cgroupHierarchies()) {
      const dir = cgroupDir(h, info!.cgroupPath);
      if (dir) expect(existsSync(dir), dir).toBe(false);
    }
  });

  it('whatever the command leaves running when it exits goes with its cgroup', async () => {
    const pin = executor.pin(db.pid);
    let info: ExecStartInfo | undefined;
    const result = await executor.exec(pin, { privileged: true, argv: ['sh', '-c', 'sleep 100 >/dev/null 2>&1 & echo started'] }, { onStart: (i) => (info = i) });
    expect(result).toMatchObject({ exitCode: 0, stdout: 'started\n', timedOut: false });
    expect(result.durationMs).toBeLessThan(5000);
    await executor.settled();
    expect(existsSync(cgroupDir(unified()!, info!.cgroupPath)!)).toBe(false);
    const ps = await executor.exec(pin, { privileged: true, argv: ['ps'] });
    expect(ps.stdout).not.toMatch(/sleep 100/);
  });

  it('a command that leaves its cgroup cannot hang exec: the timeout still kills it, and output held open elsewhere is let go', async () => {
    const escape = makeTestCgroup(`exec-escape-${randomBytes(3).toString('hex')}`);
    const procs = join(escape.dir('unified'), 'cgroup.procs');
    const sleeper = await sleeperWithHostname('escape');
    const pin = executor.pin(sleeper.pid!);
    try {
      // The command moves itself out of its exec cgroup, then sleeps: the cgroup kill misses it, the helper's death does not.
      const t0 = performance.now();
      const main = await executor.exec(pin, { privileged: true, argv: ['sh', '-c', `echo $$ > ${procs} && exec sleep 30`], namespaces: ['uts'], timeoutMs: 500 });
      expect(main).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
      expect(performance.now() - t0).toBeLessThan(5000);
      // A background process outside the cgroup holds stdout open after the command exits: exec answers after a grace period.
      const held = await executor.exec(pin, { privileged: true, argv: ['sh', '-c', `sh -c 'echo $$ > ${procs}; exec sleep 30' & sleep 0.3; echo done`], namespaces: ['uts'], timeoutMs: 20_000 });
      expect(held).toMatchObject({ exitCode: 0, timedOut: false });
      expect(held.stdout).toBe('done\n');
      expect(held.durationMs).toBeLessThan(10_000);
      expect(readFileSync(procs, 'utf8').trim()).not.toBe(''); // the sleep escaped and was not waited for
    } finally {
      writeFileSync(join(escape.dir('unified'), 'cgroup.kill'), '1');
      await until('the escaped processes to die', () => readFileSync(procs, 'utf8').trim() === '');
      escape.remove();
    }
  });

  it('output past the cap: truncated at exactly the cap, the command killed, quickly', async () => {
    const pin = executor.pin(db.pid);
    const before = process.memoryUsage().arrayBuffers;
    const result = await executor.exec(pin, { privileged: true, argv: ['yes'], maxOutputBytes: 64 * 1024 });
    log(`yes: ${JSON.stringify({ ...result, stdout: `${result.stdout.length} bytes` })}`);
    expect(result).toMatchObject({ truncated: true, signal: 'SIGKILL', timedOut: false });
    expect(result.stdout.length).toBe(64 * 1024);
    expect(result.stdout.startsWith('y\ny\n')).toBe(true);
    expect(result.durationMs).toBeLessThan(3000);
    // A 1 GiB writer with a 1 MiB cap: nsgate holds the cap, not the stream.
    const big = await executor.exec(pin, { privileged: true, argv: ['dd', 'if=/dev/zero', 'bs=1048576', 'count=1024'], maxOutputBytes: 1024 * 1024 });
    expect(big).toMatchObject({ truncated: true, signal: 'SIGKILL' });
    expect(big.stdout.length).toBe(1024 * 1024);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('on a host without the unified tree (v1 only) the helper waits until it is in the cgroup, and a timeout still kills the tree', async () => {
    const v1Only = new CgroupSystem({ hierarchies: cgroups.hierarchies.filter((h) => h.version === 1), managed: cgroups.managed });
    const v1 = new NamespaceExecutor({ cgroups: v1Only, cgroupParent: `${execParent}-v1` });
    try {
      const pin = v1.pin(db.pid);
      let info: ExecStartInfo | undefined;
      const inCgroup = new Promise<string>((resolve) => {
        const check = setInterval(() => {
          if (!info) return;
          clearInterval(check);
          resolve(readFileSync(`/proc/${info.commandPid}/cgroup`, 'utf8'));
        }, 10);
      });
      const result = await v1.exec(pin, { privileged: true, argv: ['sh', '-c', 'sleep 100 & sleep 100'], timeoutMs: 700 }, { onStart: (i) => (info = i) });
      expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
      const lines = (await inCgroup).split('\n').filter((l) => /^\d+:[^:]*(memory|pids)[^:]*:/.test(l));
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(line.endsWith(`:${info!.cgroupPath}`), line).toBe(true);
      await v1.settled();
      for (const h of v1Only.hierarchies) {
        const dir = cgroupDir(h, info!.cgroupPath);
        if (dir) expect(existsSync(dir), dir).toBe(false);
      }
    } finally {
      await v1.close();
      if (v1Only.exists(`${execParent}-v1`)) await v1Only.delete(`${execParent}-v1`);
    }
  });

  it('a helper that fails its checks disables exec and sandboxes (503 EXEC_UNAVAILABLE), not the service', async () => {
    // a copy of the helper in a folder anyone may write (not sticky): someone could swap it
    const open = mkdtempSync(join(tmpdir(), 'nsgate-open-helper-'));
    try {
      execFileSync('chmod', ['0777', open]);
      const copy = join(open, 'nsgate-exec');
      copyFileSync(executor.helperPath, copy);
      execFileSync('chmod', ['0755', copy]);
      const unsafe = new NamespaceExecutor({ cgroups, cgroupParent: execParent, helperPath: copy });
      const boxes = new SandboxManager({ cgroups, parent: sandboxParent, helperPath: copy });
      expect(unsafe.unavailable?.code).toBe('EXEC_UNAVAILABLE');
      await expect(unsafe.exec(unsafe.pin(db.pid), { argv: ['true'] })).rejects.toMatchObject({ code: 'EXEC_UNAVAILABLE', message: expect.stringMatching(/writable by no one else/) });
      await expect(boxes.create({ argv: ['true'] })).rejects.toMatchObject({ code: 'EXEC_UNAVAILABLE' });
    } finally {
      rmSync(open, { recursive: true, force: true });
    }
  });

  it('concurrency is bounded: past the running slots and the queue, EXEC_QUEUE_FULL', async () => {
    const small = new NamespaceExecutor({ cgroups, cgroupParent: execParent, limiter: { maxConcurrent: 1, maxQueued: 1 } });
    try {
      const pin = small.pin(db.pid);
      const first = small.exec(pin, { argv: ['sleep', '1'] });
      const second = small.exec(pin, { argv: ['sleep', '1'] });
      await new Promise((r) => setTimeout(r, 50));
      const third = await refusal(small.exec(pin, { argv: ['true'] }));
      expect(third.code).toBe('EXEC_QUEUE_FULL');
      expect((await first).exitCode).toBe(0);
      expect((await second).exitCode).toBe(0);
    } finally {
      await small.close();
    }
  });
});

describe('sandboxes (the tutorial\'s unshare --fork --pid --mount-proc)', () => {
  it('`ps` inside sees itself as PID 1 and nothing of the host', async () => {
    const created = await sandboxes.create({ argv: ['ps', '-e', '-o', 'pid=,comm='], hostname: 'sandbox-1' });
    expect(created).toMatchObject({ state: expect.stringMatching(/running|exited/), cgroupPath: `${sandboxParent}/${created.id}` });
    const done = await sandboxes.wait(created.id, 10_000);
    log(`ps in a sandbox:\n${done.stdout}`);
    expect(done).toMatchObject({ state: 'exited', exitCode: 0 });
    expect(done.stdout.trim().split('\n').map((l) => l.trim())).toEqual(['1 ps']);
    await sandboxes.delete(created.id);
    const hostname = await runSandbox({ argv: ['hostname'], hostname: 'sandbox-1' });
    expect(hostname.stdout).toBe('sandbox-1\n');
  });

  it('has no capabilities and no_new_privs, only descriptors 0-2, an empty network and a read-only root', async () => {
    const status = await runSandbox({ argv: ['cat', '/proc/self/status'] });
    const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)$`, 'm').exec(status.stdout)?.[1];
    expect({ CapInh: field('CapInh'), CapPrm: field('CapPrm'), CapEff: field('CapEff'), CapBnd: field('CapBnd'), CapAmb: field('CapAmb'), NoNewPrivs: field('NoNewPrivs') }).toEqual({
      CapInh: '0000000000000000',
      CapPrm: '0000000000000000',
      CapEff: '0000000000000000',
      CapBnd: '0000000000000000',
      CapAmb: '0000000000000000',
      NoNewPrivs: '1',
    });
    const fds = await runSandbox({ argv: ['ls', '-1', '/proc/self/fd'] });
    expect(fdNames(fds.stdout)).toEqual(['0', '1', '2', '3']);
    const net = await runSandbox({ argv: ['cat', '/proc/net/dev'] });
    expect(net.stdout.split('\n').slice(2).filter(Boolean).map((l) => l.trim().split(':')[0])).toEqual(['lo']);
    const write = await runSandbox({ argv: ['touch', join(scratch, 'written')] });
    expect(write.exitCode).not.toBe(0);
    expect(write.stderr).toMatch(/Read-only file system/);
    expect(existsSync(join(scratch, 'written'))).toBe(false);
    const kept = await runSandbox({ argv: ['grep', 'CapEff', '/proc/self/status'], capabilities: ['CAP_NET_BIND_SERVICE'] });
    expect(kept.stdout.trim()).toBe('CapEff:\t0000000000000400');
  });

  it('cannot pass its memory limit: an allocating sandbox is OOM-killed and reported as such', async () => {
    const created = await sandboxes.create({ argv: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=256M', 'count=1'], limits: { memory: { max: '32M' } } });
    const done = await sandboxes.wait(created.id, 20_000);
    log(`oom sandbox: ${JSON.stringify({ state: done.state, signal: done.signal, limit: done.limits?.memory, oomKills: done.stats?.memory?.oomKills })}`);
    expect(done).toMatchObject({ state: 'oom-killed', signal: 'SIGKILL', exitCode: null, killedBy: null });
    expect(done.limits?.memory?.max).toBeLessThanOrEqual(32 * 1024 * 1024);
    expect(done.stats?.memory?.oomKills).toBeGreaterThanOrEqual(1);
    await sandboxes.delete(created.id);
  });

  it('delete kills it and removes its cgroup from every hierarchy', async () => {
    const created = await sandboxes.create({ argv: ['sleep', '100'], limits: { pids: { max: 16 } } });
    expect(created.state).toBe('running');
    expect(alive(created.pid!)).toBe(true);
    expect(sandboxes.list().map((s) => s.id)).toContain(created.id);
    const dirs = cgroupHierarchies().map((h) => cgroupDir(h, created.cgroupPath)).filter((d): d is string => d !== undefined);
    expect(dirs.filter((d) => existsSync(d)).length).toBeGreaterThan(1);
    const last = await sandboxes.delete(created.id);
    expect(last).toMatchObject({ state: 'killed', killedBy: 'delete', signal: 'SIGKILL' });
    expect(alive(created.pid!)).toBe(false);
    for (const d of dirs) expect(existsSync(d), d).toBe(false);
    expect(() => sandboxes.get(created.id)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('output is capped like exec (killed at the cap), a timeout kills it, and a rootfs is pivoted into', async () => {
    const yes = await runSandbox({ argv: ['yes'], maxOutputBytes: 4096 });
    expect(yes).toMatchObject({ state: 'killed', killedBy: 'output', truncated: true });
    expect(yes.stdout.length).toBe(4096);
    const slow = await runSandbox({ argv: ['sleep', '100'], timeoutMs: 300 });
    expect(slow).toMatchObject({ state: 'killed', killedBy: 'timeout' });
    const root = join(scratch, 'rootfs');
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(root, 'proc'));
    copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
    execFileSync('chmod', ['0755', join(root, 'bin', 'busybox')]);
    const inRoot = await runSandbox({ argv: ['/bin/busybox', 'ls', '/'], rootfs: root });
    expect(inRoot.stdout.split(/\s+/).filter(Boolean)).toEqual(['bin', 'proc']);
    const ps = await runSandbox({ argv: ['/bin/busybox', 'ps'], rootfs: root });
    expect([...psTable(ps.stdout).keys()]).toEqual([1]);
    for (const s of sandboxes.list()) await sandboxes.delete(s.id);
  });

  it('holds at most maxSandboxes (CONFLICT beyond), and a setup failure leaves no cgroup behind', async () => {
    const small = new SandboxManager({ cgroups, parent: sandboxParent, maxSandboxes: 1 });
    try {
      const one = await small.create({ argv: ['sleep', '100'] });
      expect((await refusal(small.create({ argv: ['true'] }))).code).toBe('CONFLICT');
      await small.delete(one.id);
      const before = cgroups.list({ under: sandboxParent, depth: 1 }).items.length;
      // pids.max 1: the helper itself is the one process allowed, so it cannot fork the sandbox.
      const err = await refusal(small.create({ argv: ['true'], limits: { pids: { max: 1 } } }));
      expect(err.details).toMatchObject({ stage: 'clone', errno: 'EAGAIN' });
      expect(cgroups.list({ under: sandboxParent, depth: 1 }).items.length).toBe(before);
    } finally {
      await small.close();
    }
  });
});
