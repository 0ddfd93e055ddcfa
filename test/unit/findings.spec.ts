import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CAPABILITY_NAMES, beyondDockerDefault } from '../../src/kernel/capabilities.js';
import { CAPABILITY_RISK, assessContainer, type ContainerFacts, type ContainerPosture } from '../../src/kernel/findings.js';
import { capabilityState, readProcessSecurity } from '../../src/kernel/security.js';

const fixtures = fileURLToPath(new URL('./fixtures/security/', import.meta.url));
const posture = (pid: number, lsm = 'lsm-none'): ContainerPosture =>
  readProcessSecurity(`${fixtures}proc`, pid, { lsmListPath: `${fixtures}${lsm}` });
const facts = (extra: Partial<ContainerFacts> = {}): ContainerFacts => ({ mounts: [], hostNamespaces: {}, ...extra });
const ids = (p: ContainerPosture, f: ContainerFacts = facts()) => assessContainer(p, f).map((x) => x.id);

/** A default container's posture with some fields changed. */
function defaultWith(change: (p: ContainerPosture) => void): ContainerPosture {
  const p = structuredClone(posture(100));
  change(p);
  return p;
}
const withCaps = (hex: string, p: ContainerPosture) => {
  p.capabilities = capabilityState({ inheritable: '0', permitted: hex, effective: hex, bounding: hex, ambient: '0' });
};

describe('assessContainer', () => {
  it('a default container (seccomp 2, a80425fb, root, no LSM on the host) has only root_without_userns', () => {
    expect(assessContainer(posture(100), facts())).toEqual([
      { id: 'root_without_userns', severity: 'medium', reason: expect.stringMatching(/uid 0 inside is uid 0 on the host/) },
    ]);
  });

  it('--privileged: one privileged finding instead of 27 capability ones, plus seccomp off', () => {
    const found = assessContainer(posture(101), facts({ privileged: true }));
    expect(found.map((f) => f.id)).toEqual(['privileged', 'seccomp_disabled', 'root_without_userns']);
    expect(found[0]!.severity).toBe('critical');
  });

  it('every capability held is privileged even without the engine’s flag', () => {
    expect(ids(posture(101))).toContain('privileged');
  });

  it('privileged is judged against what the engine can give (this host lacks cap_sys_resource)', () => {
    const p = defaultWith((x) => withCaps('000001fffeffffff', x));
    expect(ids(p)).not.toContain('privileged');
    expect(ids(p, facts({ engineCapabilities: '000001fffeffffff' }))).toContain('privileged');
    expect(ids(p, facts({ privileged: true }))).toContain('privileged');
  });

  it('--cap-add SYS_ADMIN: exactly capability:cap_sys_admin, critical', () => {
    const found = assessContainer(defaultWith((x) => withCaps('00000000a82425fb', x)), facts());
    expect(found.map((f) => [f.id, f.severity])).toEqual([
      ['capability:cap_sys_admin', 'critical'],
      ['root_without_userns', 'medium'],
    ]);
  });

  it('each capability outside the default gets its own finding with a table severity', () => {
    // every named capability and bit 41, but not cap_chown (a default one): not "every capability", so each extra one is listed
    const p = defaultWith((x) => withCaps('000003fffffffffe', x));
    const found = assessContainer(p, facts({ engineCapabilities: 'ffffffffffffffff' }));
    const capabilityFindings = found.filter((f) => f.id.startsWith('capability:'));
    expect(capabilityFindings).toHaveLength(27 + 1);
    for (const name of CAPABILITY_NAMES) {
      const f = capabilityFindings.find((x) => x.id === `capability:${name}`);
      if (beyondDockerDefault('000001ffffffffff').includes(name)) expect(f?.severity).toBe(CAPABILITY_RISK[name]);
      else expect(f).toBeUndefined();
    }
    expect(capabilityFindings.find((x) => x.id === 'capability:41')?.severity).toBe('medium');
    expect(Object.keys(CAPABILITY_RISK).sort()).toEqual(beyondDockerDefault('000001ffffffffff').sort());
  });

  it('seccomp=unconfined: seccomp_disabled, high', () => {
    expect(assessContainer(posture(102), facts()).map((f) => [f.id, f.severity])).toEqual([
      ['seccomp_disabled', 'high'],
      ['root_without_userns', 'medium'],
    ]);
  });

  it('--pid=host and friends, from the engine’s config or from the posture', () => {
    expect(ids(posture(100), facts({ hostNamespaces: { pid: true, net: false } }))).toEqual(['host_namespace:pid', 'root_without_userns']);
    const shared = defaultWith((x) => {
      x.hostNamespaces = { pid: true, net: true, ipc: true, uts: true, user: true };
    });
    const found = assessContainer(shared, facts());
    expect(found.map((f) => [f.id, f.severity])).toEqual([
      ['host_namespace:pid', 'high'],
      ['host_namespace:net', 'high'],
      ['host_namespace:ipc', 'medium'],
      ['root_without_userns', 'medium'],
      ['host_namespace:uts', 'low'],
    ]);
  });

  it.each([
    ['/var/run/docker.sock', '/var/run/docker.sock'],
    ['/run/docker.sock', '/sock'],
    ['/var/run/', '/host-run'],
    ['/run', '/r'],
    ['/', '/host'],
    ['/srv/other.sock', '/var/run/docker.sock'],
    ['/run/nsgate-test/docker.sock', '/docker.sock'],
  ])('the Docker socket mounted (%s at %s) is critical', (source, destination) => {
    const found = assessContainer(posture(100), facts({ mounts: [{ source, destination }], dockerSockets: ['/run/nsgate-test/docker.sock'] }));
    expect(found[0]).toMatchObject({ id: `docker_socket:${destination.replace(/\/$/, '')}`, severity: 'critical' });
  });

  it('ordinary mounts are not the socket', () => {
    const mounts = [
      { source: '/srv/data', destination: '/data' },
      { source: '/var/run-other', destination: '/x' },
      { source: '/run/docker.sockets', destination: '/y' },
    ];
    expect(ids(posture(100), facts({ mounts }))).toEqual(['root_without_userns']);
  });

  it('a user namespace that remaps root: no root finding, and capabilities count one step lower', () => {
    const p = posture(103); // 0 -> 100000, bounding full, seccomp 2
    const found = assessContainer(p, facts({ privileged: false }));
    expect(found.map((f) => f.id)).not.toContain('root_without_userns');
    expect(found.find((f) => f.id === 'privileged')?.severity).toBe('high');
    expect(found.map((f) => f.id)).toContain('no_new_privs_off'); // bounding holds what it lacks
  });

  it('no_new_privs off matters for a non-root process, more with extra capabilities in its bounding set', () => {
    const nonRoot = defaultWith((x) => {
      x.uid = { real: 1000, effective: 1000, saved: 1000, filesystem: 1000 };
      x.capabilities = capabilityState({ inheritable: '0', permitted: '0', effective: '0', bounding: 'a80425fb', ambient: '0' });
    });
    expect(assessContainer(nonRoot, facts())).toEqual([{ id: 'no_new_privs_off', severity: 'low', reason: expect.any(String) }]);
    nonRoot.capabilities.bounding = capabilityState({ inheritable: '0', permitted: '0', effective: '0', bounding: 'a82425fb', ambient: '0' }).bounding;
    const found = assessContainer(nonRoot, facts());
    expect(found.find((f) => f.id === 'no_new_privs_off')?.severity).toBe('medium');
    expect(found.map((f) => f.id)).toContain('capability:cap_sys_admin');
    nonRoot.noNewPrivs = true;
    expect(ids(nonRoot)).not.toContain('no_new_privs_off');
  });

  it('the engine’s user is the fallback where the posture has no uid', () => {
    const p = defaultWith((x) => {
      x.uid = { real: NaN, effective: NaN, saved: NaN, filesystem: NaN };
    });
    expect(ids(p, facts({ user: '' }))).toContain('root_without_userns');
    expect(ids(p, facts({ user: '0:0' }))).toContain('root_without_userns');
    expect(ids(p, facts({ user: 'nobody' }))).not.toContain('root_without_userns');
  });

  it('LSM: a labelled container is fine; unconfined or complain mode where the host has the LSM', () => {
    expect(ids(posture(104, 'lsm-apparmor'), facts({ hostLsms: ['apparmor'] }))).toEqual(['root_without_userns']);
    expect(ids(posture(105, 'lsm-selinux'))).toEqual(['root_without_userns']);
    const unconfined = defaultWith((x) => {
      x.lsm = { name: 'apparmor', label: 'unconfined' };
    });
    expect(assessContainer(unconfined, facts()).find((f) => f.id === 'lsm_unconfined')?.severity).toBe('medium');
    const spc = defaultWith((x) => {
      x.lsm = { name: 'selinux', label: 'system_u:system_r:spc_t:s0' };
    });
    expect(ids(spc)).toContain('lsm_unconfined');
    const complain = defaultWith((x) => {
      x.lsm = { name: 'apparmor', label: 'docker-default (complain)' };
    });
    expect(assessContainer(complain, facts()).find((f) => f.id === 'lsm_complain_mode')?.severity).toBe('low');
  });

  it('no label: a finding only where the host runs a labelling LSM', () => {
    expect(ids(posture(100), facts({ hostLsms: ['lockdown', 'capability', 'landlock', 'yama', 'bpf'] }))).toEqual(['root_without_userns']);
    expect(ids(posture(100), facts({ hostLsms: null }))).toEqual(['root_without_userns']);
    expect(ids(posture(100), facts({ hostLsms: ['capability', 'apparmor'] }))).toEqual(['root_without_userns', 'lsm_unconfined']);
  });

  it('findings come most severe first, ids unique', () => {
    const p = defaultWith((x) => {
      withCaps('00000000a82c25fb', x); // + sys_admin, sys_ptrace (19), sys_nice (23)
      x.seccomp = { mode: 0, modeName: 'disabled', filters: 0 };
    });
    const found = assessContainer(p, facts({ hostNamespaces: { pid: true, uts: true }, mounts: [{ source: '/run', destination: '/run' }] }));
    const order = ['critical', 'high', 'medium', 'low'];
    expect(found.map((f) => order.indexOf(f.severity))).toEqual([...found.map((f) => order.indexOf(f.severity))].sort());
    expect(new Set(found.map((f) => f.id)).size).toBe(found.length);
    expect(found.every((f) => !f.reason.includes('\n') && f.reason.length > 0)).toBe(true);
  });
});
