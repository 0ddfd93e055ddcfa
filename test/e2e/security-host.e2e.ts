import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NsgateError } from '../../src/kernel/errors.js';
import { readProcessSecurity, type ProcessSecurity } from '../../src/kernel/security.js';

/*
 * Real processes on this host (see MACHINE.md): pid 1, this test's own process, and
 * processes the test starts and kills by pid. No LSM runs here: attr/current says EINVAL.
 */

const started: ChildProcess[] = [];

function start(argv: string[]): ChildProcess {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  started.push(child);
  return child;
}

/** The raw `Key:\tvalue` of /proc/PID/status, for comparing with what the reader says. */
function statusField(pid: number, key: string): string | undefined {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${key}:`));
  return line?.slice(key.length + 1).trim();
}

/** Wait until the child has exec'ed its final program (comm changes from setpriv/unshare to sleep). */
async function execed(child: ChildProcess, comm: string): Promise<number> {
  const pid = child.pid!;
  for (let i = 0; i < 200; i++) {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm) return pid;
    await sleep(10);
  }
  throw new Error(`${pid} never became ${comm}`);
}

function capshNames(hex: string): string[] {
  const line = execFileSync('capsh', [`--decode=${hex}`], { encoding: 'utf8' }).trim();
  const names = line.slice(line.indexOf('=') + 1);
  return names === '' ? [] : names.split(',');
}

/** Every set as hex matches the status line, and as names matches capsh. */
function expectCapabilitiesAsProcSays(s: ProcessSecurity): void {
  const lines = { inheritable: 'CapInh', permitted: 'CapPrm', effective: 'CapEff', bounding: 'CapBnd', ambient: 'CapAmb' } as const;
  for (const [set, key] of Object.entries(lines) as [keyof typeof lines, string][]) {
    expect(s.capabilities[set].hex).toBe(statusField(s.pid, key));
    expect(s.capabilities[set].names).toEqual(capshNames(s.capabilities[set].hex));
  }
  expect(s.seccomp.mode).toBe(Number(statusField(s.pid, 'Seccomp')));
  expect(s.seccomp.filters).toBe(Number(statusField(s.pid, 'Seccomp_filters')));
  expect(s.noNewPrivs).toBe(statusField(s.pid, 'NoNewPrivs') === '1');
}

const read = (pid: number) => readProcessSecurity('/proc', pid);

let restricted: number;
let mappedRoot: number;
let remapped: number;

beforeAll(async () => {
  restricted = await execed(start(['setpriv', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', 'sleep', '60']), 'sleep');
  mappedRoot = await execed(start(['unshare', '--user', '--map-root-user', 'sleep', '60']), 'sleep');
  // A user namespace whose root is uid 100000 outside: we are root in the parent namespace,
  // so the test writes the maps itself (no newuidmap on this machine).
  remapped = await execed(start(['unshare', '--user', 'sleep', '60']), 'sleep');
  writeFileSync(`/proc/${remapped}/uid_map`, '0 100000 65536\n');
  writeFileSync(`/proc/${remapped}/setgroups`, 'deny');
  writeFileSync(`/proc/${remapped}/gid_map`, '0 100000 65536\n');
});

afterAll(async () => {
  await Promise.all(
    started.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          process.kill(child.pid!, 'SIGKILL');
        }),
    ),
  );
});

describe('readProcessSecurity on this host', () => {
  it('this machine has no LSM: attr/current fails with EINVAL, and every process reads lsm null', () => {
    expect(() => readFileSync('/proc/self/attr/current')).toThrowError(expect.objectContaining({ code: 'EINVAL' }) as Error);
    for (const pid of [1, process.pid, restricted, mappedRoot, remapped]) expect(read(pid).lsm).toBeNull();
  });

  it('pid 1: reads without failing though its namespace links are out of reach here', () => {
    const s = read(1);
    expectCapabilitiesAsProcSays(s);
    let link: string | null = null;
    try {
      link = readlinkSync('/proc/1/ns/user');
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('EACCES');
    }
    expect(s.userNamespace.inode).toBe(link === null ? null : /\[(\d+)\]/.exec(link)![1]);
    expect(s.userNamespace.uidMap).toEqual([{ inside: 0, outside: 0, count: 4294967295 }]);
    expect(s.userNamespace.rootIsHostRoot).toBe(true);
    // pid 1 is the host by definition: never false, null where its links cannot be read
    for (const v of Object.values(s.hostNamespaces)) expect(v === true || v === null).toBe(true);
  });

  it('this test’s own process: root with (nearly) every capability, in the host’s namespaces', () => {
    const s = read(process.pid);
    expectCapabilitiesAsProcSays(s);
    expect(s.uid.effective).toBe(0);
    expect(s.capabilities.effective.names).toContain('cap_sys_admin');
    expect(s.userNamespace.rootIsHostRoot).toBe(true);
    expect(s.userNamespace.inode).toBe(/\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/user'))![1]);
    expect(Object.values(s.hostNamespaces)).toEqual(Array(8).fill(true));
  });

  it('setpriv --no-new-privs --inh-caps=-all --bounding-set=-all: nnp on, every set empty', () => {
    const s = read(restricted);
    expectCapabilitiesAsProcSays(s);
    expect(s.noNewPrivs).toBe(true);
    expect(s.seccomp).toEqual({ mode: 0, modeName: 'disabled', filters: 0 });
    for (const set of Object.values(s.capabilities)) expect(set).toEqual({ hex: '0000000000000000', names: [] });
    expect(s.uid.effective).toBe(0);
    expect(Object.values(s.hostNamespaces)).toEqual(Array(8).fill(true));
  });

  it('unshare --user --map-root-user run by root maps 0 to 0: a new user namespace whose root IS host root', () => {
    const s = read(mappedRoot);
    expectCapabilitiesAsProcSays(s);
    expect(s.userNamespace.uidMap).toEqual([{ inside: 0, outside: 0, count: 1 }]);
    expect(s.userNamespace.gidMap).toEqual([{ inside: 0, outside: 0, count: 1 }]);
    expect(s.userNamespace.rootIsHostRoot).toBe(true);
    expect(s.userNamespace.inode).toBe(/\[(\d+)\]/.exec(readlinkSync(`/proc/${mappedRoot}/ns/user`))![1]);
    expect(s.hostNamespaces).toEqual({ cgroup: true, ipc: true, mnt: true, net: true, pid: true, time: true, user: false, uts: true });
    // root in its own namespace holds every capability there
    expect(s.capabilities.effective.hex).toBe('000001ffffffffff');
  });

  it('unshare --user with root mapped to 100000: rootIsHostRoot false', () => {
    const s = read(remapped);
    expectCapabilitiesAsProcSays(s);
    expect(s.userNamespace.uidMap).toEqual([{ inside: 0, outside: 100000, count: 65536 }]);
    expect(s.userNamespace.gidMap).toEqual([{ inside: 0, outside: 100000, count: 65536 }]);
    expect(s.userNamespace.rootIsHostRoot).toBe(false);
    expect(s.hostNamespaces.user).toBe(false);
    expect(s.hostNamespaces.net).toBe(true);
  });

  it('a process that has exited and been reaped is PROCESS_NOT_FOUND', async () => {
    const child = spawn('true', { stdio: 'ignore' });
    const pid = child.pid!;
    await new Promise((resolve) => child.once('exit', resolve));
    expect(() => read(pid)).toThrowError(expect.objectContaining({ code: 'PROCESS_NOT_FOUND' }) as Error);
  });

  it('processes exiting while they are read: every read succeeds or says PROCESS_NOT_FOUND', async () => {
    let ok = 0;
    let gone = 0;
    for (let round = 0; round < 20; round++) {
      const child = spawn('sleep', [String(0.01 + (round % 5) * 0.01)], { stdio: 'ignore' });
      const pid = child.pid!;
      let exited = false;
      child.once('exit', () => {
        exited = true;
      });
      // read until the child has exited, been reaped by Node and its /proc entry is gone
      for (let i = 0; i < 2000; i++) {
        try {
          read(pid);
          ok++;
        } catch (err) {
          expect(err).toBeInstanceOf(NsgateError);
          expect((err as NsgateError).code).toBe('PROCESS_NOT_FOUND');
          gone++;
          if (exited) break;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    expect(ok).toBeGreaterThan(0);
    expect(gone).toBeGreaterThanOrEqual(20);
  });
});
