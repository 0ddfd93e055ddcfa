import { describe, expect, it } from 'vitest';
import {
  type NamespaceMembershipTable,
  NO_NAMESPACE,
  compareInodes,
  lsnsCommand,
  membersOf,
  mergeMembershipTables,
  readNamespaceInventory,
  scanNamespaceMemberships,
  tallyNamespaces,
} from '../../../src/kernel/namespaces.js';
import { FIXTURE_PASSWD, FIXTURE_PROC } from './fixture.js';

const inventory = () => readNamespaceInventory({ procRoot: FIXTURE_PROC, passwdPath: FIXTURE_PASSWD });

describe('namespace inventory on the fixture tree', () => {
  it('counts every readable link like lsns: kernel threads count, a zombie only in pid and user, a vanished process nowhere', () => {
    const lines = inventory().map(({ type, inode, processCount, pid }) => `${type} ${inode} ${processCount} ${pid}`);
    expect(lines).toEqual([
      'mnt 4026531832 2 2',
      'net 4026531833 1 2',
      'time 4026531834 3 2',
      'cgroup 4026531835 3 2',
      'pid 4026531836 3 2',
      'user 4026531837 4 2',
      'uts 4026531838 2 2',
      'ipc 4026531839 2 2',
      'ipc 4026532201 1 100',
      'mnt 4026532202 1 100',
      'net 4026532203 2 100',
      'pid 4026532204 1 100',
      'uts 4026532205 1 100',
    ]);
  });

  it('gives the lowest pid its command as lsns prints it and its owner as a name', () => {
    const net = inventory().find((entry) => entry.inode === '4026532203');
    expect(net).toMatchObject({ pid: 100, command: 'sh -c echo hi; sleep 5', user: 'root', uid: 0 });
    const host = inventory().find((entry) => entry.inode === '4026531833');
    expect(host).toMatchObject({ pid: 2, command: 'kthreadd' });
  });

  it('lists the members of a namespace', () => {
    const table = scanNamespaceMemberships({ procRoot: FIXTURE_PROC });
    expect(membersOf(table, 'net', '4026532203')).toEqual([100, 101]);
    expect(membersOf(table, 'uts', '4026532203')).toEqual([]);
    expect(membersOf(table, 'net', '1')).toEqual([]);
    expect([...table.pids]).toEqual([2, 100, 101, 300]);
    expect(membersOf(table, 'user', '4026531837')).toEqual([2, 100, 101, 300]);
  });

  it('gives the same tally when the scan is split and merged', () => {
    const whole = tallyNamespaces(scanNamespaceMemberships({ procRoot: FIXTURE_PROC }));
    const parts = [0, 1, 2].map((index) =>
      scanNamespaceMemberships({ procRoot: FIXTURE_PROC, includePid: (pid) => pid % 3 === index }),
    );
    expect(tallyNamespaces(mergeMembershipTables(parts))).toEqual(whole);
  });
});

describe('lsnsCommand', () => {
  it('joins argv with spaces and drops the last byte, as lsns does', () => {
    expect(lsnsCommand(100, FIXTURE_PROC)).toBe('sh -c echo hi; sleep 5');
    // NUL padding of a rewritten title becomes spaces, all but the last.
    expect(lsnsCommand(101, FIXTURE_PROC)).toBe('nginx: worker process    ');
  });

  it('falls back to comm for kernel threads and zombies, and to "" when nothing is left', () => {
    expect(lsnsCommand(2, FIXTURE_PROC)).toBe('kthreadd');
    expect(lsnsCommand(300, FIXTURE_PROC)).toBe('sleep');
    expect(lsnsCommand(999, FIXTURE_PROC)).toBe('');
  });
});

describe('tallyNamespaces', () => {
  it('skips unreadable slots and sorts inodes numerically, beyond 2^53 too', () => {
    const N = NO_NAMESPACE;
    const table: NamespaceMembershipTable = {
      pids: new Int32Array([7, 3]),
      // cgroup, ipc, mnt, net, pid, time, user, uts for pid 7, then for pid 3.
      slots: new Uint32Array([0, 1, N, N, N, N, N, N, 0, N, 2, N, N, N, N, N]),
      inodes: ['18446744073709551615', '900', '10'],
    };
    const tallies = tallyNamespaces(table);
    expect(tallies.map((t) => [t.type, t.inode, t.processCount, t.pid])).toEqual([
      ['mnt', '10', 1, 3],
      ['ipc', '900', 1, 7],
      ['cgroup', '18446744073709551615', 2, 3],
    ]);
    expect(compareInodes('9007199254740993', '9007199254740992')).toBeGreaterThan(0);
  });
});
