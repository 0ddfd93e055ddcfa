import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NsgateError } from '../../../src/kernel/errors.js';
import {
  isKernelThread,
  listPids,
  parseCmdline,
  parseNamespaceLink,
  parseProcCgroup,
  parseProcStat,
  readNamespaceInodes,
  readProcessCgroups,
  readProcessCmdline,
  readProcessComm,
  readProcessEnviron,
  readProcessLsmLabels,
  readProcessOwner,
  readProcessStat,
  readProcessStatus,
  readUserNames,
  userNameOf,
} from '../../../src/kernel/procfs/index.js';
import { FIXTURE_PASSWD, FIXTURE_PROC, fixture } from './fixture.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NsgateError);
    return (err as NsgateError).code;
  }
  return undefined;
}

describe('listPids', () => {
  it('lists the numeric entries only, ascending', () => {
    expect(listPids(FIXTURE_PROC)).toEqual([2, 100, 101, 300, 400]);
  });
});

describe('stat', () => {
  it('parses a comm with spaces and parentheses from the last ")"', () => {
    const stat = readProcessStat(100, fixture);
    expect(stat).toMatchObject({
      pid: 100,
      comm: 'my sh) (x',
      state: 'S',
      ppid: 90,
      threads: 2,
      startTimeTicks: 250000,
      utimeTicks: 12,
      stimeTicks: 7,
    });
    expect(isKernelThread(stat)).toBe(false);
  });

  it('recognises a kernel thread by PF_KTHREAD', () => {
    const stat = readProcessStat(2, fixture);
    expect(stat).toMatchObject({ pid: 2, comm: 'kthreadd', ppid: 0, startTimeTicks: 14 });
    expect(isKernelThread(stat)).toBe(true);
  });

  it('reads a zombie', () => {
    expect(readProcessStat(300, fixture)).toMatchObject({ state: 'Z', ppid: 100 });
  });

  it('refuses a malformed line', () => {
    expect(() => parseProcStat('garbage')).toThrow(NsgateError);
  });
});

describe('status', () => {
  it('reads ids, NSpid, threads, seccomp, capabilities and no_new_privs', () => {
    expect(readProcessStatus(100, fixture)).toEqual({
      name: 'my sh) (x',
      state: 'S',
      stateName: 'sleeping',
      tgid: 100,
      pid: 100,
      ppid: 90,
      uid: { real: 1000, effective: 1001, saved: 1002, filesystem: 1003 },
      gid: { real: 2000, effective: 2001, saved: 2002, filesystem: 2003 },
      nspid: [100, 1],
      threads: 2,
      seccomp: 2,
      seccompFilters: 1,
      noNewPrivs: true,
      capabilities: {
        inheritable: '0000000000000000',
        permitted: '00000000a80425fb',
        effective: '00000000a80425fb',
        bounding: '00000000a80425fb',
        ambient: '0000000000000000',
      },
    });
  });

  it('reads a kernel thread and a zombie', () => {
    expect(readProcessStatus(2, fixture)).toMatchObject({ name: 'kthreadd', nspid: [2], seccomp: 0, noNewPrivs: false });
    expect(readProcessStatus(300, fixture)).toMatchObject({ state: 'Z', stateName: 'zombie' });
  });
});

describe('cmdline and comm', () => {
  it('splits argv on NUL', () => {
    expect(readProcessCmdline(100, fixture)).toEqual(['sh', '-c', 'echo hi; sleep 5']);
  });

  it('drops the NUL padding of a rewritten title', () => {
    expect(readProcessCmdline(101, fixture)).toEqual(['nginx: worker process']);
    expect(parseCmdline(Buffer.from('a\0\0b\0'))).toEqual(['a', '', 'b']);
  });

  it('is empty for kernel threads and zombies', () => {
    expect(readProcessCmdline(2, fixture)).toEqual([]);
    expect(readProcessCmdline(300, fixture)).toEqual([]);
  });

  it('reads comm without its newline', () => {
    expect(readProcessComm(100, fixture)).toBe('my sh) (x');
    expect(readProcessComm(2, fixture)).toBe('kthreadd');
  });
});

describe('ns links', () => {
  it('parses a link target', () => {
    expect(parseNamespaceLink('net:[4026531840]')).toEqual({ type: 'net', inode: '4026531840' });
    expect(parseNamespaceLink('pid_for_children:[4026531836]')).toEqual({ type: 'pid_for_children', inode: '4026531836' });
    expect(parseNamespaceLink('/some/path')).toBeNull();
  });

  it('reads all eight types as decimal strings', () => {
    expect(readNamespaceInodes(100, fixture)).toEqual({
      cgroup: '4026531835',
      ipc: '4026532201',
      mnt: '4026532202',
      net: '4026532203',
      pid: '4026532204',
      time: '4026531834',
      user: '4026531837',
      uts: '4026532205',
    });
    expect(readNamespaceInodes(2, fixture).net).toBe('4026531833');
  });

  it('gives nulls for the links a zombie lost with its nsproxy, and its pid and user links', () => {
    expect(readNamespaceInodes(300, fixture)).toEqual({
      cgroup: null,
      ipc: null,
      mnt: null,
      net: null,
      pid: '4026531836',
      time: null,
      user: '4026531837',
      uts: null,
    });
  });
});

describe('cgroup', () => {
  it('splits on the first two colons only', () => {
    expect(readProcessCgroups(100, fixture)).toEqual([
      { hierarchyId: 9, controllers: ['name=systemd'], path: '/docker/abc' },
      { hierarchyId: 8, controllers: ['pids'], path: '/docker/abc' },
      { hierarchyId: 4, controllers: ['memory'], path: '/docker/abc' },
      { hierarchyId: 3, controllers: ['cpu', 'cpuacct'], path: '/docker/a:b' },
      { hierarchyId: 0, controllers: [], path: '/' },
    ]);
    expect(parseProcCgroup('')).toEqual([]);
  });
});

describe('environ', () => {
  it('parses NUL-separated pairs, values with "=" and keys without', () => {
    expect(readProcessEnviron(100, fixture)).toEqual([
      { key: 'PATH', value: '/usr/bin:/bin' },
      { key: 'HOME', value: '/root' },
      { key: 'EMPTY', value: '' },
      { key: 'NOEQUALS', value: '' },
      { key: 'A', value: 'b=c' },
    ]);
  });

  it('is empty for a kernel thread', () => {
    expect(readProcessEnviron(2, fixture)).toEqual([]);
  });
});

describe('LSM labels', () => {
  it('reads attr/current and attr/apparmor/current', () => {
    expect(readProcessLsmLabels(100, fixture)).toEqual({
      current: 'docker-default (enforce)',
      apparmor: 'docker-default (enforce)',
    });
  });

  it('is null where no LSM file exists', () => {
    expect(readProcessLsmLabels(2, fixture)).toEqual({ current: null, apparmor: null });
  });
});

describe('owner and user names', () => {
  it('is the owner of /proc/PID', () => {
    const stats = statSync(`${FIXTURE_PROC}/100`);
    expect(readProcessOwner(100, fixture)).toEqual({ uid: stats.uid, gid: stats.gid });
  });

  it('maps uids to the first passwd name, else to the number', () => {
    const names = readUserNames(FIXTURE_PASSWD);
    expect(userNameOf(names, 0)).toBe('root');
    expect(userNameOf(names, 1001)).toBe('alice');
    expect(userNameOf(names, 4242)).toBe('4242');
    expect(readUserNames(`${FIXTURE_PROC}/no-such-file`).size).toBe(0);
  });
});

describe('a process that is gone', () => {
  it('is PROCESS_NOT_FOUND for every reader when its directory vanished mid-read', () => {
    // 400 exited after its stat was read: the rest of its files are gone.
    expect(readProcessStat(400, fixture).pid).toBe(400);
    expect(codeOf(() => readProcessStatus(400, fixture))).toBe('PROCESS_NOT_FOUND');
    expect(codeOf(() => readProcessCmdline(400, fixture))).toBe('PROCESS_NOT_FOUND');
    expect(codeOf(() => readProcessComm(400, fixture))).toBe('PROCESS_NOT_FOUND');
    expect(codeOf(() => readProcessCgroups(400, fixture))).toBe('PROCESS_NOT_FOUND');
  });

  it('is PROCESS_NOT_FOUND for a pid that does not exist', () => {
    for (const read of [
      readProcessStat,
      readProcessStatus,
      readProcessCmdline,
      readProcessComm,
      readProcessCgroups,
      readProcessEnviron,
      readProcessLsmLabels,
      readProcessOwner,
      readNamespaceInodes,
    ]) {
      expect(codeOf(() => read(999, fixture)), read.name).toBe('PROCESS_NOT_FOUND');
    }
  });

  it('refuses a pid that is not a positive integer', () => {
    expect(codeOf(() => readProcessStat(-1, fixture))).toBe('VALIDATION_FAILED');
    expect(codeOf(() => readProcessStat(1.5, fixture))).toBe('VALIDATION_FAILED');
  });

  it('is PROCESS_NOT_FOUND on the real kernel once a child has exited', async () => {
    const child = spawn('true');
    const pid = child.pid!;
    await new Promise((resolve) => child.on('exit', resolve));
    expect(codeOf(() => readProcessStat(pid))).toBe('PROCESS_NOT_FOUND');
    expect(codeOf(() => readNamespaceInodes(pid))).toBe('PROCESS_NOT_FOUND');
    expect(codeOf(() => readProcessEnviron(pid))).toBe('PROCESS_NOT_FOUND');
  });

  it('reads this very process on the real kernel', () => {
    expect(readProcessStat(process.pid).pid).toBe(process.pid);
    expect(readProcessStatus(process.pid).nspid.at(-1)).toBeGreaterThan(0);
    expect(readProcessCmdline(process.pid)[0]).toMatch(/node/);
    expect(readNamespaceInodes(process.pid).net).toMatch(/^\d+$/);
  });
});
