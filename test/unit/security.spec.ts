import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NsgateError } from '../../src/kernel/errors.js';
import {
  lsmOfCurrentLabel,
  mapsRootToRoot,
  parseIdMap,
  readProcessSecurity,
  type ProcessSecurity,
} from '../../src/kernel/security.js';

const fixtures = fileURLToPath(new URL('./fixtures/security/', import.meta.url));
const PROC = `${fixtures}proc`;
const NO_LSM = `${fixtures}lsm-none`;
const read = (pid: number, lsmListPath = NO_LSM, procRoot = PROC): ProcessSecurity =>
  readProcessSecurity(procRoot, pid, { lsmListPath });

const DOCKER_NAMES = [
  'cap_chown', 'cap_dac_override', 'cap_fowner', 'cap_fsetid', 'cap_kill', 'cap_setgid', 'cap_setuid', 'cap_setpcap',
  'cap_net_bind_service', 'cap_net_raw', 'cap_sys_chroot', 'cap_mknod', 'cap_audit_write', 'cap_setfcap',
];
const EMPTY = { hex: '0000000000000000', names: [] };

describe('readProcessSecurity on fixture trees', () => {
  it('a default Docker container: seccomp filter, a80425fb with its fourteen names, private namespaces', () => {
    const s = read(100);
    expect(s.seccomp).toEqual({ mode: 2, modeName: 'filter', filters: 1 });
    expect(s.noNewPrivs).toBe(false);
    expect(s.capabilities).toEqual({
      inheritable: EMPTY,
      permitted: { hex: '00000000a80425fb', names: DOCKER_NAMES },
      effective: { hex: '00000000a80425fb', names: DOCKER_NAMES },
      bounding: { hex: '00000000a80425fb', names: DOCKER_NAMES },
      ambient: EMPTY,
    });
    expect(s.lsm).toBeNull();
    expect(s.uid).toEqual({ real: 0, effective: 0, saved: 0, filesystem: 0 });
    expect(s.userNamespace).toEqual({
      inode: '4026531837',
      uidMap: [{ inside: 0, outside: 0, count: 4294967295 }],
      gidMap: [{ inside: 0, outside: 0, count: 4294967295 }],
      rootIsHostRoot: true,
    });
    expect(s.hostNamespaces).toEqual({
      cgroup: true, ipc: false, mnt: false, net: false, pid: false, time: true, user: true, uts: false,
    });
  });

  it('a privileged container: every capability, seccomp disabled', () => {
    const s = read(101);
    expect(s.seccomp).toEqual({ mode: 0, modeName: 'disabled', filters: 0 });
    expect(s.capabilities.effective.hex).toBe('000001ffffffffff');
    expect(s.capabilities.bounding.names).toHaveLength(41);
    expect(s.capabilities.bounding.names.at(-1)).toBe('cap_checkpoint_restore');
  });

  it('a container run with seccomp=unconfined keeps Docker’s capabilities', () => {
    const s = read(102);
    expect(s.seccomp.mode).toBe(0);
    expect(s.capabilities.effective.hex).toBe('00000000a80425fb');
  });

  it('a process in a user namespace mapped to 100000: root inside is not root outside', () => {
    const s = read(103);
    expect(s.userNamespace).toEqual({
      inode: '4026532299',
      uidMap: [{ inside: 0, outside: 100000, count: 65536 }],
      gidMap: [{ inside: 0, outside: 100000, count: 65536 }],
      rootIsHostRoot: false,
    });
    expect(s.hostNamespaces.user).toBe(false);
    expect(s.capabilities.bounding.hex).toBe('000001ffffffffff');
  });

  it('a user namespace that maps 0 to 0 (unshare --map-root-user run by root) is host root', () => {
    const s = read(108);
    expect(s.userNamespace.uidMap).toEqual([{ inside: 0, outside: 0, count: 1 }]);
    expect(s.userNamespace.rootIsHostRoot).toBe(true);
    expect(s.hostNamespaces).toMatchObject({ user: false, net: true, pid: true });
  });

  it('AppArmor from attr/apparmor/current; SELinux from attr/current when securityfs lists selinux', () => {
    expect(read(104, `${fixtures}lsm-apparmor`).lsm).toEqual({ name: 'apparmor', label: 'docker-default (enforce)' });
    expect(read(105, `${fixtures}lsm-selinux`).lsm).toEqual({
      name: 'selinux',
      label: 'system_u:system_r:container_t:s0:c123,c456',
    });
  });

  it('without securityfs, the label’s shape names the LSM', () => {
    expect(read(105, `${fixtures}does-not-exist`).lsm?.name).toBe('selinux');
    expect(lsmOfCurrentLabel('docker-default (enforce)', null)).toBe('apparmor');
    expect(lsmOfCurrentLabel('unconfined', null)).toBe('apparmor');
    expect(lsmOfCurrentLabel('_', ['capability', 'smack'])).toBe('smack');
  });

  it('no LSM (attr files missing or unreadable) is null, never an error', () => {
    expect(read(100).lsm).toBeNull();
    expect(read(107).lsm).toBeNull(); // attr/current is a directory: EISDIR
  });

  it('strict mode, no_new_privs, a non-root user with Docker’s bounding set', () => {
    const s = read(107);
    expect(s.seccomp).toEqual({ mode: 1, modeName: 'strict', filters: 0 });
    expect(s.noNewPrivs).toBe(true);
    expect(s.uid.effective).toBe(1000);
    expect(s.capabilities.effective).toEqual(EMPTY);
    expect(s.capabilities.bounding.names).toEqual(DOCKER_NAMES);
  });

  it('a zombie (no namespace links) reads with null inodes instead of failing', () => {
    const s = read(106);
    expect(s.userNamespace.inode).toBeNull();
    expect(Object.values(s.hostNamespaces).every((v) => v === null)).toBe(true);
    expect(s.seccomp.mode).toBe(2);
  });

  it('an old kernel’s status (no Seccomp_filters, CapAmb, NoNewPrivs) still reads', () => {
    const s = read(109);
    expect(s.seccomp.filters).toBeNull();
    expect(s.capabilities.ambient).toEqual(EMPTY);
    expect(s.noNewPrivs).toBe(false);
  });

  it('pid 1 is in the host’s namespaces by definition', () => {
    expect(Object.values(read(1).hostNamespaces).every((v) => v === true)).toBe(true);
  });

  it('a missing process is PROCESS_NOT_FOUND; a bad pid VALIDATION_FAILED', () => {
    expect(() => read(4242)).toThrowError(expect.objectContaining({ code: 'PROCESS_NOT_FOUND' }) as Error);
    expect(() => read(0)).toThrowError(NsgateError);
    expect(() => read(-1)).toThrowError(expect.objectContaining({ code: 'VALIDATION_FAILED' }) as Error);
  });
});

describe('host namespaces without a readable pid 1', () => {
  it('falls back to the kernel’s fixed initial-namespace inodes (self shows this kernel fixes net/mnt too)', () => {
    const root = `${fixtures}proc-no-init`;
    expect(Object.values(read(200, NO_LSM, root).hostNamespaces).every((v) => v === true)).toBe(true);
    expect(read(201, NO_LSM, root).hostNamespaces).toEqual({
      cgroup: true, ipc: false, mnt: false, net: false, pid: false, time: true, user: true, uts: false,
    });
  });

  it('on a kernel whose initial net/mnt have no fixed inode, a mismatch there is unknown (null)', () => {
    const root = `${fixtures}proc-old-kernel`;
    // pid 1 is missing; neither 300, 301 nor self (300) shows the fixed net/mnt inodes
    expect(read(300, NO_LSM, root).hostNamespaces).toMatchObject({ net: null, mnt: null, ipc: true, pid: true });
    expect(read(301, NO_LSM, root).hostNamespaces).toMatchObject({ net: null, mnt: null, ipc: false, pid: false });
  });

  it('a different reference pid can be named', () => {
    const s = readProcessSecurity(PROC, 103, { lsmListPath: NO_LSM, hostPid: 100 });
    expect(s.hostNamespaces).toMatchObject({ net: false, cgroup: true, user: false });
  });
});

describe('id maps', () => {
  it('parses padded columns and skips junk', () => {
    expect(parseIdMap('         0       1000          1\n      1  100000  65536\n\nbad line\n')).toEqual([
      { inside: 0, outside: 1000, count: 1 },
      { inside: 1, outside: 100000, count: 65536 },
    ]);
  });

  it('root is host root only when 0 maps to 0', () => {
    expect(mapsRootToRoot([])).toBe(false);
    expect(mapsRootToRoot([{ inside: 0, outside: 0, count: 4294967295 }])).toBe(true);
    expect(mapsRootToRoot([{ inside: 0, outside: 1000, count: 1 }])).toBe(false);
    expect(mapsRootToRoot([{ inside: 1, outside: 0, count: 1 }])).toBe(false);
  });
});
