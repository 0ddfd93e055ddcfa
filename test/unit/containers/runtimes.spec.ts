import { describe, expect, it } from 'vitest';
import { parseProcCgroup } from '../../../src/kernel/procfs/cgroup.js';
import {
  groupProcessesByContainer,
  recogniseCgroupPath,
  recogniseMemberships,
  unescapeSystemdName,
  type ProcessCgroups,
} from '../../../src/kernel/containers/runtimes.js';

/*
 * Path shapes as the runtimes write them (checked against public code: cAdvisor's and other
 * agents' container handlers, runc/systemd scope naming, podman's conmon/payload split,
 * kubelet's pod cgroup names, LXC 4's payload/monitor split, systemd-nspawn's
 * payload/supervisor children, libvirt's machine scopes).
 */
const ID = '9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d';
const ID2 = '0bc5eac79e3ae7a0c2651f14722aa10fa333eb2325c2ca97da33aa284cda81b0';
const POD_UID = '0b7632a2-a56e-4278-987a-22de18008dbe';
const POD_SLICE_UID = POD_UID.replaceAll('-', '_');

describe('recogniseCgroupPath: Docker', () => {
  it('cgroupfs driver: /docker/<id> (this machine)', () => {
    expect(recogniseCgroupPath(`/docker/${ID}`)).toEqual({ runtime: 'docker', id: ID, cgroupPath: `/docker/${ID}` });
  });

  it('systemd driver: /system.slice/docker-<id>.scope', () => {
    expect(recogniseCgroupPath(`/system.slice/docker-${ID}.scope`)).toEqual({
      runtime: 'docker',
      id: ID,
      cgroupPath: `/system.slice/docker-${ID}.scope`,
    });
  });

  it('a container with cgroups of its own below (systemd inside, cgroupns): the container is the runtime’s cgroup', () => {
    expect(recogniseCgroupPath(`/docker/${ID}/init.scope`)).toMatchObject({ runtime: 'docker', id: ID, cgroupPath: `/docker/${ID}` });
    expect(recogniseCgroupPath(`/system.slice/docker-${ID}.scope/system.slice/cron.service`)).toMatchObject({
      id: ID,
      cgroupPath: `/system.slice/docker-${ID}.scope`,
    });
  });

  it('docker in docker: the inner container wins', () => {
    expect(recogniseCgroupPath(`/docker/${ID}/docker/${ID2}`)).toMatchObject({ runtime: 'docker', id: ID2, cgroupPath: `/docker/${ID}/docker/${ID2}` });
  });

  it('the engine itself and near misses are not containers', () => {
    for (const path of [
      '/system.slice/docker.service',
      '/docker',
      `/system.slice/docker-${ID.slice(1)}.scope`,
      `/system.slice/docker-${ID.toUpperCase()}.scope`,
      '/system.slice/docker-.scope',
      `/docker/${ID.slice(0, 12)}`,
    ]) {
      expect(recogniseCgroupPath(path), path).toBeNull();
    }
  });

  it('a bare id elsewhere (docker run --cgroup-parent) is a container of an unknown runtime', () => {
    expect(recogniseCgroupPath(`/nsgate-e2e-1-ab/${ID}`)).toEqual({ runtime: 'unknown', id: ID, cgroupPath: `/nsgate-e2e-1-ab/${ID}` });
  });
});

describe('recogniseCgroupPath: containerd and CRI (kubelet)', () => {
  it('systemd driver: kubepods-<qos>-pod<uid>.slice/cri-containerd-<id>.scope, with the pod uid', () => {
    const path = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_SLICE_UID}.slice/cri-containerd-${ID}.scope`;
    expect(recogniseCgroupPath(path)).toEqual({ runtime: 'containerd', id: ID, podUid: POD_UID, cgroupPath: path });
  });

  it('guaranteed pods have no QoS level: kubepods-pod<uid>.slice', () => {
    const path = `/kubepods.slice/kubepods-pod${POD_SLICE_UID}.slice/cri-containerd-${ID}.scope`;
    expect(recogniseCgroupPath(path)).toMatchObject({ runtime: 'containerd', podUid: POD_UID });
  });

  it('cgroupfs driver: /kubepods/<qos>/pod<uid>/<id> and /kubepods/pod<uid>/<id>', () => {
    expect(recogniseCgroupPath(`/kubepods/besteffort/pod${POD_UID}/${ID}`)).toEqual({
      runtime: 'containerd',
      id: ID,
      podUid: POD_UID,
      cgroupPath: `/kubepods/besteffort/pod${POD_UID}/${ID}`,
    });
    expect(recogniseCgroupPath(`/kubepods/pod${POD_UID}/${ID}`)).toMatchObject({ runtime: 'containerd', id: ID, podUid: POD_UID });
  });

  it('containerd namespaces at the root: /k8s.io/<id>, /default/<id> (ctr)', () => {
    expect(recogniseCgroupPath(`/k8s.io/${ID}`)).toEqual({ runtime: 'containerd', id: ID, cgroupPath: `/k8s.io/${ID}` });
    expect(recogniseCgroupPath(`/default/${ID}`)).toMatchObject({ runtime: 'containerd', id: ID });
  });

  it('dockershim with the systemd driver: docker-<id>.scope in a pod slice', () => {
    const path = `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_SLICE_UID}.slice/docker-${ID}.scope`;
    expect(recogniseCgroupPath(path)).toMatchObject({ runtime: 'docker', id: ID, podUid: POD_UID });
  });

  it('pod and QoS cgroups themselves are not containers', () => {
    expect(recogniseCgroupPath(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_SLICE_UID}.slice`)).toBeNull();
    expect(recogniseCgroupPath(`/kubepods/burstable/pod${POD_UID}`)).toBeNull();
    expect(recogniseCgroupPath('/kubepods.slice/kubepods-besteffort.slice')).toBeNull();
  });
});

describe('recogniseCgroupPath: CRI-O', () => {
  it('systemd driver: crio-<id>.scope, and its "container" child on cgroup v2', () => {
    const pod = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_SLICE_UID}.slice`;
    expect(recogniseCgroupPath(`${pod}/crio-${ID2}.scope`)).toEqual({
      runtime: 'cri-o',
      id: ID2,
      podUid: POD_UID,
      cgroupPath: `${pod}/crio-${ID2}.scope`,
    });
    expect(recogniseCgroupPath(`${pod}/crio-${ID2}.scope/container`)).toMatchObject({ runtime: 'cri-o', cgroupPath: `${pod}/crio-${ID2}.scope` });
  });

  it('cgroupfs driver: /kubepods/.../crio-<id>', () => {
    expect(recogniseCgroupPath(`/kubepods/burstable/pod${POD_UID}/crio-${ID}`)).toMatchObject({ runtime: 'cri-o', id: ID, podUid: POD_UID });
  });

  it('conmon (crio-conmon-<id>) is the monitor, not the container', () => {
    const pod = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_SLICE_UID}.slice`;
    expect(recogniseCgroupPath(`${pod}/crio-conmon-${ID2}.scope`)).toBeNull();
    expect(recogniseCgroupPath(`/kubepods/burstable/pod${POD_UID}/crio-conmon-${ID2}`)).toBeNull();
    expect(recogniseCgroupPath(`/system.slice/crio-conmon-${ID2}.scope`)).toBeNull();
  });
});

describe('recogniseCgroupPath: Podman', () => {
  it('systemd driver, rootful and rootless: libpod-<id>.scope', () => {
    expect(recogniseCgroupPath(`/machine.slice/libpod-${ID}.scope`)).toEqual({
      runtime: 'podman',
      id: ID,
      cgroupPath: `/machine.slice/libpod-${ID}.scope`,
    });
    const rootless = `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope`;
    expect(recogniseCgroupPath(rootless)).toMatchObject({ runtime: 'podman', id: ID, cgroupPath: rootless });
    expect(recogniseCgroupPath(`/machine.slice/libpod-${ID}.scope/container`)).toMatchObject({ cgroupPath: `/machine.slice/libpod-${ID}.scope` });
  });

  it('a container of a pod: machine-libpod_pod_<id>.slice/libpod-<id>.scope (the pod slice is no nspawn machine)', () => {
    const podSlice = `/machine.slice/machine-libpod_pod_0262e761c5b499b1ad78250d810594064f61cc61a524d72d58690e52e727ec2a.slice`;
    expect(recogniseCgroupPath(`${podSlice}/libpod-${ID}.scope`)).toMatchObject({ runtime: 'podman', id: ID });
    expect(recogniseCgroupPath(podSlice)).toBeNull();
  });

  it('cgroupfs driver: /libpod_parent/libpod-<id>; conmon in /libpod_parent/conmon is not a container', () => {
    expect(recogniseCgroupPath(`/libpod_parent/libpod-${ID}`)).toEqual({ runtime: 'podman', id: ID, cgroupPath: `/libpod_parent/libpod-${ID}` });
    expect(recogniseCgroupPath('/libpod_parent/conmon')).toBeNull();
  });

  it('--cgroups=split (quadlet): <unit>.service/libpod-payload-<id>; conmon sits in the "runtime" sibling', () => {
    const unit = '/user.slice/user-1000.slice/user@1000.service/app.slice/redis.service';
    expect(recogniseCgroupPath(`${unit}/libpod-payload-${ID}`)).toEqual({ runtime: 'podman', id: ID, cgroupPath: `${unit}/libpod-payload-${ID}` });
    expect(recogniseCgroupPath(`${unit}/runtime`)).toBeNull();
  });

  it('libpod-conmon-<id>.scope is conmon, not the container', () => {
    expect(recogniseCgroupPath(`/machine.slice/libpod-conmon-${ID}.scope`)).toBeNull();
  });
});

describe('recogniseCgroupPath: LXC', () => {
  it('LXC 4+: /lxc.payload.<name> is the container, also with its own cgroups below', () => {
    expect(recogniseCgroupPath('/lxc.payload.mail')).toEqual({ runtime: 'lxc', id: 'mail', name: 'mail', cgroupPath: '/lxc.payload.mail' });
    expect(recogniseCgroupPath('/lxc.payload.mail/system.slice/postfix.service')).toEqual({
      runtime: 'lxc',
      id: 'mail',
      name: 'mail',
      cgroupPath: '/lxc.payload.mail',
    });
    expect(recogniseCgroupPath('/lxc.payload.web-01.example/init.scope')).toMatchObject({ name: 'web-01.example' });
  });

  it('/lxc.monitor.<name> and Proxmox’s /lxc.monitor/<name> are the monitor: not a container', () => {
    expect(recogniseCgroupPath('/lxc.monitor.mail')).toBeNull();
    expect(recogniseCgroupPath('/lxc.monitor/101')).toBeNull();
  });

  it('LXC 1-3 and Proxmox: /lxc/<name>, with Proxmox’s inner "ns" subtree', () => {
    expect(recogniseCgroupPath('/lxc/web')).toEqual({ runtime: 'lxc', id: 'web', name: 'web', cgroupPath: '/lxc/web' });
    expect(recogniseCgroupPath('/lxc/101/ns/init.scope')).toMatchObject({ runtime: 'lxc', id: '101', cgroupPath: '/lxc/101' });
    expect(recogniseCgroupPath('/lxc.payload/101')).toMatchObject({ runtime: 'lxc', id: '101' });
    expect(recogniseCgroupPath('/lxc')).toBeNull();
  });

  it('a docker container inside an LXC container is the docker one', () => {
    expect(recogniseCgroupPath(`/lxc.payload.outer/docker/${ID}`)).toMatchObject({ runtime: 'docker', id: ID });
    expect(recogniseCgroupPath('/lxc.payload.outer/lxc.monitor.inner')).toMatchObject({ runtime: 'lxc', id: 'outer' });
  });
});

describe('recogniseCgroupPath: systemd-nspawn and libvirt machines', () => {
  it('machine-<name>.scope, name unescaped', () => {
    expect(recogniseCgroupPath('/machine.slice/machine-debian.scope')).toEqual({
      runtime: 'systemd-nspawn',
      id: 'debian',
      name: 'debian',
      cgroupPath: '/machine.slice/machine-debian.scope',
    });
    expect(recogniseCgroupPath('/machine.slice/machine-foo\\x2dbar.scope')).toMatchObject({ id: 'foo-bar', name: 'foo-bar' });
    expect(recogniseCgroupPath('/machine.slice/machine-foo\\x2dbar.scope/payload/system.slice/cron.service')).toMatchObject({
      name: 'foo-bar',
      cgroupPath: '/machine.slice/machine-foo\\x2dbar.scope',
    });
  });

  it('machinectl start: systemd-nspawn@<name>.service with payload and supervisor children', () => {
    const unit = '/machine.slice/systemd-nspawn@my\\x2dbox.service';
    expect(recogniseCgroupPath(`${unit}/payload/init.scope`)).toEqual({ runtime: 'systemd-nspawn', id: 'my-box', name: 'my-box', cgroupPath: unit });
    expect(recogniseCgroupPath(`${unit}/supervisor`)).toBeNull();
    expect(recogniseCgroupPath('/machine.slice/machine-debian.scope/supervisor')).toBeNull();
  });

  it('libvirt: a qemu VM scope is no container; a libvirt-lxc one is', () => {
    expect(recogniseCgroupPath('/machine.slice/machine-qemu\\x2d1\\x2dvps3458844.scope')).toBeNull();
    expect(recogniseCgroupPath('/machine.slice/machine-qemu\\x2d3\\x2dubuntu20.04.scope/libvirt/vcpu0')).toBeNull();
    expect(recogniseCgroupPath('/machine.slice/machine-lxc\\x2d4242\\x2dweb.scope')).toMatchObject({ runtime: 'libvirt-lxc', id: 'web' });
  });

  it('unescapes any \\xHH sequence, multi-byte ones too', () => {
    expect(unescapeSystemdName('a\\x2db\\x2dc')).toBe('a-b-c');
    expect(unescapeSystemdName('caf\\xc3\\xa9')).toBe('café');
    expect(unescapeSystemdName('plain')).toBe('plain');
  });
});

describe('recogniseCgroupPath: nsgate sandboxes and the host', () => {
  it('/nsgate/sandboxes/<id> is a container of runtime nsgate', () => {
    expect(recogniseCgroupPath('/nsgate/sandboxes/sbx-1a2b')).toEqual({ runtime: 'nsgate', id: 'sbx-1a2b', name: 'sbx-1a2b', cgroupPath: '/nsgate/sandboxes/sbx-1a2b' });
    expect(recogniseCgroupPath('/nsgate/sandboxes/sbx-1a2b/worker')).toMatchObject({ id: 'sbx-1a2b', cgroupPath: '/nsgate/sandboxes/sbx-1a2b' });
    expect(recogniseCgroupPath('/nsgate/sandboxes')).toBeNull();
    expect(recogniseCgroupPath('/other/nsgate/sandboxes/x')).toBeNull();
  });

  it('host cgroups are no containers', () => {
    for (const path of [
      '/',
      '',
      '/init.scope',
      '/user.slice/user-1000.slice/session-3.scope',
      '/system.slice/containerd.service',
      '/system.slice/sshd.service',
      '/process_api/x',
      '/nsgate/batch',
    ]) {
      expect(recogniseCgroupPath(path), path).toBeNull();
    }
  });
});

describe('recogniseMemberships', () => {
  it('reads /proc/PID/cgroup of a docker container on this machine’s hybrid layout', () => {
    const text = [
      `12:pids:/docker/${ID}`,
      `11:memory:/docker/${ID}`,
      `4:cpu,cpuacct:/docker/${ID}`,
      `1:name=systemd:/docker/${ID}`,
      `0::/docker/${ID}`,
    ].join('\n');
    expect(recogniseMemberships(parseProcCgroup(text))).toEqual({ runtime: 'docker', id: ID, cgroupPath: `/docker/${ID}` });
  });

  it('asks the unified line first, then controllers, then name=systemd', () => {
    const text = [`1:name=systemd:/lxc.payload.a`, `4:memory:/docker/${ID}`, `0::/machine.slice/machine-b.scope`].join('\n');
    expect(recogniseMemberships(parseProcCgroup(text))).toMatchObject({ runtime: 'systemd-nspawn', id: 'b' });
    const noUnified = [`1:name=systemd:/lxc.payload.a`, `4:memory:/docker/${ID}`, `0::/`].join('\n');
    expect(recogniseMemberships(parseProcCgroup(noUnified))).toMatchObject({ runtime: 'docker', id: ID });
    expect(recogniseMemberships(parseProcCgroup(`1:name=systemd:/lxc.payload.a\n0::/`))).toMatchObject({ runtime: 'lxc', id: 'a' });
    expect(recogniseMemberships(parseProcCgroup('0::/init.scope'))).toBeNull();
  });
});

describe('groupProcessesByContainer', () => {
  const proc = (pid: number, ppid: number, path: string): ProcessCgroups => ({ pid, ppid, cgroups: parseProcCgroup(`0::${path}`) });

  it('groups by container and picks the init: the lowest pid whose parent is outside', () => {
    const processes = [
      proc(1, 0, '/init.scope'),
      proc(900, 1, '/system.slice/containerd.service'),
      proc(1000, 900, '/system.slice/containerd.service'), // the shim
      proc(1010, 1000, `/docker/${ID}`), // db's init
      proc(1020, 1010, `/docker/${ID}`),
      proc(1015, 1010, `/docker/${ID}`),
      proc(1100, 900, '/system.slice/containerd.service'),
      proc(1110, 1100, `/docker/${ID2}`), // web's init
      proc(1005, 1, '/lxc.monitor.mail'),
      proc(1200, 1005, '/lxc.payload.mail/init.scope'),
      proc(1300, 1200, '/lxc.payload.mail/system.slice/postfix.service'),
    ];
    expect(groupProcessesByContainer(processes)).toEqual([
      { runtime: 'docker', id: ID, cgroupPath: `/docker/${ID}`, initPid: 1010, pids: [1010, 1015, 1020] },
      { runtime: 'docker', id: ID2, cgroupPath: `/docker/${ID2}`, initPid: 1110, pids: [1110] },
      { runtime: 'lxc', id: 'mail', name: 'mail', cgroupPath: '/lxc.payload.mail', initPid: 1200, pids: [1200, 1300] },
    ]);
  });

  it('a process entered from outside (docker exec) has its parent outside too: the lowest such pid is init', () => {
    // After a pid wrap an exec'd process can have the lower pid and is taken for init: cgroup
    // paths alone cannot tell; for Docker containers the engine's State.Pid is authoritative.
    const processes = [proc(2000, 1000, `/docker/${ID}`), proc(1990, 1500, `/docker/${ID}`), proc(2010, 2000, `/docker/${ID}`)];
    expect(groupProcessesByContainer(processes)[0]).toMatchObject({ initPid: 1990, pids: [1990, 2000, 2010] });
  });

  it('takes the scanner’s ProcessRecord shape and ignores host processes', () => {
    expect(groupProcessesByContainer([proc(1, 0, '/init.scope'), proc(2, 0, '/')])).toEqual([]);
  });
});
