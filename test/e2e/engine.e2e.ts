import { readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cgroupHierarchies, cgroupDir } from './support/cgroupfs.js';
import { makeTestCgroup } from './support/cgroups.js';
import { docker, dockerJson, removeContainer, runContainer, TEST_IMAGE, type TestContainer } from './support/docker.js';

/*
 * The harness itself: the private engine answers, the busybox image runs, and a default
 * container is what MACHINE.md says (seccomp filter mode, Docker's default capabilities,
 * its cgroup at /docker/<id> in every hierarchy).
 */

function statusField(pid: number, key: string): string | undefined {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${key}:`));
  return line?.slice(key.length + 1).trim();
}

/** e.g. net:[4026532160] */
function nsOf(pid: number, type: string): string {
  return readlinkSync(`/proc/${pid}/ns/${type}`);
}

describe('the private Docker Engine', () => {
  let db: TestContainer;
  let web: TestContainer;

  beforeAll(async () => {
    db = await runContainer('db', [TEST_IMAGE, 'sleep', '600']);
    web = await runContainer('web', ['--net=container:' + db.name, TEST_IMAGE, 'sleep', '600']);
  });

  afterAll(async () => {
    await removeContainer(web?.id ?? 'none');
    await removeContainer(db?.id ?? 'none');
  });

  it('answers on the socket the setup provides, which is also DOCKER_HOST', async () => {
    expect(inject('dockerHost')).toBe('unix:///run/nsgate-test/docker.sock');
    expect(process.env.DOCKER_HOST).toBe(inject('dockerHost'));
    const version = await dockerJson<{ Server: { Version: string } }>(['version', '--format', '{{json .}}']);
    expect(version.Server.Version).toMatch(/^\d+\.\d+/);
  });

  it('runs the busybox image with no network and the test labels', async () => {
    const [info] = await dockerJson<{ Config: { Labels: Record<string, string>; Image: string }; HostConfig: { NetworkMode: string }; State: { Running: boolean } }[]>([
      'inspect',
      db.id,
    ]);
    expect(info!.State.Running).toBe(true);
    expect(info!.Config.Image).toBe(TEST_IMAGE);
    expect(info!.HostConfig.NetworkMode).toBe('none');
    expect(info!.Config.Labels).toMatchObject({ 'nsgate.test': '1', 'nsgate.test.run': inject('testRunId') });
    expect(readFileSync(`/proc/${db.pid}/comm`, 'utf8').trim()).toBe('sleep');
    // only loopback inside
    expect(await docker(['exec', db.id, 'ls', '/sys/class/net'])).toBe('lo');
  });

  it('shares a network namespace with --net=container:NAME', () => {
    expect(nsOf(web.pid, 'net')).toBe(nsOf(db.pid, 'net'));
    expect(nsOf(web.pid, 'pid')).not.toBe(nsOf(db.pid, 'pid'));
    expect(nsOf(db.pid, 'net')).not.toBe(nsOf(process.pid, 'net'));
  });

  it('confines a default container: seccomp filter mode and Docker default capabilities', () => {
    expect(statusField(db.pid, 'Seccomp')).toBe('2');
    expect(statusField(db.pid, 'CapEff')).toBe('00000000a80425fb');
  });

  it('puts a container in /docker/<id> in every cgroup hierarchy', () => {
    const lines = readFileSync(`/proc/${db.pid}/cgroup`, 'utf8').trim().split('\n');
    expect(lines.length).toBe(cgroupHierarchies().length);
    for (const line of lines) expect(line.split(':').slice(2).join(':')).toBe(`/docker/${db.id}`);
  });

  it('makes and removes a test cgroup under the run parent in every hierarchy', () => {
    const parent = inject('cgroupParent');
    expect(parent).toMatch(/^\/nsgate-e2e-\d+-[0-9a-f]+$/);
    const cg = makeTestCgroup('harness/child');
    try {
      expect(cg.path).toBe(`${parent}/harness/child`);
      expect(cg.dirs.size).toBe(cgroupHierarchies().length);
      for (const h of cgroupHierarchies()) expect([...cg.dirs.values()]).toContain(cgroupDir(h, cg.path));
      expect(readFileSync(`${cg.dir('cpuset')}/cpuset.cpus`, 'utf8').trim()).not.toBe('');
    } finally {
      cg.remove();
    }
    for (const dir of cg.dirs.values()) expect(() => readFileSync(`${dir}/cgroup.procs`)).toThrow(/ENOENT/);
  });
});
