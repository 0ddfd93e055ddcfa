// Issue 16 item 4 (no mount crossing) and item 7's removal race, on this host's kernel.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.js';
import { makeTestCgroup, type TestCgroup } from './support/cgroups.js';

const read = (file: string) => readFileSync(file, 'utf8').trim();
const MEMORY = '/sys/fs/cgroup/memory';
/** A cgroup of our own outside every managed tree (and outside this run's parent). */
const OUTSIDE = '/nsgate-wterr-outside';

function mounted(dir: string): boolean {
  return read('/proc/self/mountinfo')
    .split('\n')
    .some((l) => l.split(' ')[4] === dir);
}

describe('cgroup paths never cross a mount', () => {
  let t: TestApp;
  let managed: string;
  let planted: string; // a managed cgroup whose memory directory has the outside cgroup mounted on it
  let target: string; // the mount point
  let sleeper: ChildProcess | undefined;
  let bounds: TestCgroup | undefined;
  const as = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
  const url = (path: string, action?: string) => `/v1/cgroups${path}${action ? `/-/${action}` : ''}`;

  beforeAll(async () => {
    bounds = makeTestCgroup('bounds');
    managed = bounds.path;
    planted = `${managed}/planted`;
    target = `${MEMORY}${planted}`;
    t = await startTestApp({ NSGATE_MANAGED_CGROUPS: managed });
    if (!existsSync(`${MEMORY}${OUTSIDE}`)) mkdirSync(`${MEMORY}${OUTSIDE}`);
    writeFileSync(`${MEMORY}${OUTSIDE}/memory.limit_in_bytes`, String(64 << 20));
    expect((await t.http().put(url(planted)).set(as(t.tokens.operator)).send({})).status).toBe(200);
    execFileSync('mount', ['--bind', `${MEMORY}${OUTSIDE}`, target]);
    expect(mounted(target)).toBe(true);
  });

  afterAll(async () => {
    try {
      sleeper?.kill('SIGKILL');
      for (let i = 0; i < 3 && mounted(target); i++) execFileSync('umount', i === 0 ? [target] : ['-l', target]);
    } finally {
      await t?.http().delete(url(planted)).set(as(t.tokens.operator));
      await t?.close();
      bounds?.remove();
      if (existsSync(`${MEMORY}${OUTSIDE}`)) rmdirSync(`${MEMORY}${OUTSIDE}`);
    }
  });

  it('refuses every route that writes through the mount, with 403 CGROUP_MOUNT_CROSSED naming it; the outside cgroup unchanged', async () => {
    const limitBefore = read(`${MEMORY}${OUTSIDE}/memory.limit_in_bytes`);
    sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
    const cgroupsBefore = read(`/proc/${sleeper.pid}/cgroup`);
    const attempts: [string, () => ReturnType<ReturnType<TestApp['http']>['get']>][] = [
      ['PATCH limits', () => t.http().patch(url(planted, 'limits')).set(as(t.tokens.operator)).send({ memory: { max: '8M' } })],
      ['PATCH limits (pids only)', () => t.http().patch(url(planted, 'limits')).set(as(t.tokens.operator)).send({ pids: { max: 5 } })],
      ['POST freeze', () => t.http().post(url(planted, 'freeze')).set(as(t.tokens.operator))],
      ['POST thaw', () => t.http().post(url(planted, 'thaw')).set(as(t.tokens.operator))],
      ['POST processes', () => t.http().post(url(planted, 'processes')).set(as(t.tokens.admin)).send({ pid: sleeper!.pid })],
      ['POST kill', () => t.http().post(url(planted, 'kill')).set(as(t.tokens.admin))],
      ['DELETE', () => t.http().delete(url(planted)).set(as(t.tokens.admin))],
      ['PUT below', () => t.http().put(url(`${planted}/below`)).set(as(t.tokens.admin)).send({ limits: { memory: { max: '8M' } } })],
      ['GET', () => t.http().get(url(planted)).set(as(t.tokens.viewer))],
    ];
    for (const [name, attempt] of attempts) {
      const res = await attempt();
      expect([name, res.status, res.body.error?.code]).toEqual([name, 403, 'CGROUP_MOUNT_CROSSED']);
      expect(res.body.error.details).toMatchObject({ path: planted, mountPoint: target });
      expect(res.body.error.message).toContain(target);
    }
    const gql = await t.graphql(`mutation { setCgroupLimits(path: "${planted}", limits: { memory: { max: "8M" } }) { after { memory { max } } } }`, t.tokens.operator);
    expect(gql.body.errors?.[0]?.extensions?.code).toBe('CGROUP_MOUNT_CROSSED');

    expect(read(`${MEMORY}${OUTSIDE}/memory.limit_in_bytes`)).toBe(limitBefore);
    expect(existsSync(`${MEMORY}${OUTSIDE}/below`)).toBe(false);
    expect(read(`${MEMORY}${OUTSIDE}/cgroup.procs`)).toBe('');
    expect(read(`/proc/${sleeper.pid}/cgroup`)).toBe(cgroupsBefore);
    expect(existsSync(`/proc/${sleeper.pid}`)).toBe(true);
    expect(mounted(target)).toBe(true);
  });

  it('lists the managed tree without the planted mount, and keeps serving the cgroups beside it', async () => {
    const sibling = `${managed}/sibling`;
    expect((await t.http().put(url(sibling)).set(as(t.tokens.operator)).send({ limits: { memory: { max: '16M' } } })).status).toBe(200);
    const list = await t.http().get(`/v1/cgroups?under=${managed}&depth=2`).set(as(t.tokens.viewer));
    expect(list.status).toBe(200);
    const paths = (list.body.items as { path: string }[]).map((i) => i.path);
    expect(paths).toContain(sibling);
    expect(paths).not.toContain(planted);
    const patched = await t.http().patch(url(sibling, 'limits')).set(as(t.tokens.operator)).send({ memory: { max: '24M' } });
    expect([patched.status, patched.body.after?.memory?.max]).toEqual([200, 24 << 20]);
    expect((await t.http().delete(url(sibling)).set(as(t.tokens.operator))).status).toBe(200);
  });
});

describe('a cgroup removed during a change', () => {
  let t: TestApp;
  let managed: TestCgroup;
  const as = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

  beforeAll(async () => {
    managed = makeTestCgroup('racing');
    t = await startTestApp({ NSGATE_MANAGED_CGROUPS: managed.path });
  });
  afterAll(async () => {
    await t?.close();
    managed?.remove();
  });

  it('answers 200, 404 or 410, never 422 or 500, whenever the removal lands', async () => {
    const statuses = new Map<number, number>();
    const seen: string[] = [];
    for (let i = 0; i < 120; i++) {
      const victim = makeTestCgroup(`racing/v${i % 4}`);
      const patch = t
        .http()
        .patch(`/v1/cgroups${victim.path}/-/limits`)
        .set(as(t.tokens.operator))
        .send({ memory: { max: '64M' }, cpu: { shares: 512, quotaUs: 50000 }, pids: { max: 10 }, cpuset: { cpus: '0' } });
      // the removal lands at a different point of the change each time (the change awaits each write)
      const removal = new Promise<void>((resolve) => setTimeout(() => (victim.remove(), resolve()), i % 6));
      const [res] = await Promise.all([patch, removal]);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (![200, 404, 410].includes(res.status)) seen.push(`${i}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    expect(seen).toEqual([]);
    // the loop really raced: removals landed before, during and after changes
    expect(statuses.get(404) ?? 0).toBeGreaterThan(0);
  });
});
