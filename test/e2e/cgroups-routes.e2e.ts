import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp, waitFor } from './support/app.js';
import { cgroupParent, makeTestCgroup, type TestCgroup } from './support/cgroups.js';

const read = (file: string) => readFileSync(file, 'utf8').trim();
const started: ChildProcess[] = [];
function start(argv: string[]): ChildProcess {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  started.push(child);
  return child;
}
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(read(`/proc/${pid}/status`));
const utime = (pid: number) => Number(read(`/proc/${pid}/stat`).split(') ')[1]!.split(' ')[11]);

describe('cgroups through the API, on this host\'s kernel', () => {
  let t: TestApp;
  let managed: string; // NSGATE_MANAGED_CGROUPS for this app
  let outside: TestCgroup; // a cgroup of this run that nsgate must not touch
  const mem = (path: string) => `/sys/fs/cgroup/memory${path}`;
  const as = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
  const url = (path: string, action?: string) => `/v1/cgroups${path}${action ? `/-/${action}` : ''}`;

  beforeAll(async () => {
    managed = `${cgroupParent()}/managed`;
    outside = makeTestCgroup('outside');
    t = await startTestApp({ NSGATE_MANAGED_CGROUPS: managed });
  });
  afterAll(async () => {
    for (const child of started) child.kill('SIGKILL');
    await t?.close();
    outside?.remove();
  });

  it('walks the tutorial: create, 8000000 reads back 7999488, pids, move, freeze really stops, thaw, kill, delete', async () => {
    const path = `${managed}/tutorial`;
    const created = await t.http().put(url(path)).set(as(t.tokens.operator)).send({ limits: { pids: { max: 64 } } });
    expect(created.status).toBe(200);
    expect(read(`/sys/fs/cgroup/pids${path}/pids.max`)).toBe('64');

    const limits = await t.http().patch(url(path, 'limits')).set(as(t.tokens.operator)).send({ memory: { max: 8000000 } });
    expect(limits.status).toBe(200);
    expect(limits.body.before.memory.max).toBeNull();
    expect(limits.body.after.memory.max).toBe(7999488);
    expect(read(`${mem(path)}/memory.limit_in_bytes`)).toBe('7999488');

    const busy = start(['sh', '-c', 'while :; do :; done']);
    // busy runs in this test's own cgroups, outside the managed tree: an operator may not pull it in, an admin may
    const pulled = await t.http().post(url(path, 'processes')).set(as(t.tokens.operator)).send({ pid: busy.pid });
    expect([pulled.status, pulled.body.error?.code]).toEqual([403, 'CGROUP_NOT_MANAGED']);
    expect(read(`/proc/${busy.pid}/cgroup`)).not.toContain(`:memory:${path}`);
    const moved = await t.http().post(url(path, 'processes')).set(as(t.tokens.admin)).send({ pid: busy.pid });
    expect(moved.status).toBe(200);
    expect(read(`/proc/${busy.pid}/cgroup`)).toContain(`:memory:${path}`);
    const one = await t.http().get(url(path)).set(as(t.tokens.viewer));
    expect(one.body.processes).toEqual([busy.pid]);
    // cgroup.type from the unified tree; the cpuset as asked and as in effect
    expect(one.body.type).toBe(read(`/sys/fs/cgroup/unified${path}/cgroup.type`));
    const cpuset = (file: string) => read(`/sys/fs/cgroup/cpuset${path}/${file}`);
    expect(one.body.limits.cpuset).toEqual({
      cpus: cpuset('cpuset.cpus'),
      mems: cpuset('cpuset.mems'),
      effectiveCpus: cpuset('cpuset.effective_cpus'),
      effectiveMems: cpuset('cpuset.effective_mems'),
    });

    expect((await t.http().post(url(path, 'freeze')).set(as(t.tokens.operator))).body).toMatchObject({ freezer: 'frozen' });
    const frozenAt = utime(busy.pid!);
    await new Promise((r) => setTimeout(r, 400));
    expect(utime(busy.pid!)).toBe(frozenAt);
    expect((await t.http().post(url(path, 'thaw')).set(as(t.tokens.operator))).body).toMatchObject({ freezer: 'thawed' });
    await waitFor(async () => utime(busy.pid!) > frozenAt, 5000, 50);

    // kill is an admin's, as API.md says
    const refused = await t.http().post(url(path, 'kill')).set(as(t.tokens.operator));
    expect([refused.status, refused.body.error?.code]).toEqual([403, 'FORBIDDEN']);
    expect(alive(busy.pid!)).toBe(true);
    const killed = await t.http().post(url(path, 'kill')).set(as(t.tokens.admin));
    expect(killed.status).toBe(200);
    await waitFor(async () => !alive(busy.pid!), 5000, 20);

    const deleted = await t.http().delete(url(path)).set(as(t.tokens.operator));
    expect(deleted.status).toBe(200);
    expect(existsSync(mem(path))).toBe(false);
  });

  it('refuses a memory limit below usage with 409, the workload alive and the old limit intact', async () => {
    const path = `${managed}/hungry`;
    await t.http().put(url(path)).set(as(t.tokens.operator)).send({});
    // v1 charges pages to the cgroup that faults them in: allocate only once moved
    const hog = spawn(process.execPath, ['-e', "process.stdin.once('data', () => { globalThis.b = Buffer.alloc(40 << 20, 1); }); setInterval(() => {}, 1000)"], { stdio: ['pipe', 'ignore', 'ignore'] });
    started.push(hog);
    await t.http().post(url(path, 'processes')).set(as(t.tokens.admin)).send({ pid: hog.pid });
    hog.stdin!.write('allocate\n');
    await waitFor(async () => Number(read(`${mem(path)}/memory.usage_in_bytes`)) > 30 << 20, 10_000, 50);
    const before = read(`${mem(path)}/memory.limit_in_bytes`);
    const res = await t.http().patch(url(path, 'limits')).set(as(t.tokens.operator)).send({ memory: { max: '8M' } });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('LIMIT_BELOW_USAGE');
    expect(res.body.error.details.usage).toBeGreaterThan(30 << 20);
    expect(read(`${mem(path)}/memory.limit_in_bytes`)).toBe(before);
    expect(alive(hog.pid!)).toBe(true);
    await t.http().post(url(path, 'kill')).set(as(t.tokens.admin));
    await waitFor(async () => !alive(hog.pid!), 5000, 20);
    expect((await t.http().delete(url(path)).set(as(t.tokens.operator))).status).toBe(200);
  });

  it('refuses unmanaged and traversal paths and bad values, leaving the kernel files as they were', async () => {
    const target = `${mem(outside.path)}/memory.limit_in_bytes`;
    const before = read(target);
    const cases: [string, number, string][] = [
      [url(outside.path, 'limits'), 403, 'CGROUP_NOT_MANAGED'],
      [`/v1/cgroups${managed}/../outside/-/limits`, 400, 'CGROUP_PATH_INVALID'],
      [`/v1/cgroups${managed}//x/-/limits`, 400, 'CGROUP_PATH_INVALID'],
      [`/v1/cgroups${managed}/a%0Ab/-/limits`, 400, 'CGROUP_PATH_INVALID'],
    ];
    for (const [u, status, code] of cases) {
      const res = await t.http().patch(u).set(as(t.tokens.admin)).send({ memory: { max: 8000000 } });
      expect([u, res.status, res.body.error?.code]).toEqual([u, status, code]);
    }
    const path = `${managed}/values`;
    await t.http().put(url(path)).set(as(t.tokens.operator)).send({});
    const memBefore = read(`${mem(path)}/memory.limit_in_bytes`);
    for (const body of [{ memory: { max: '1M' } }, { cpu: { quotaUs: 10, periodUs: 100000 } }, { pids: { max: 0 } }, { cpuset: { cpus: '1-9223372036854775807' } }, { memory: { max: 8000000, bogus: 1 } }]) {
      const res = await t.http().patch(url(path, 'limits')).set(as(t.tokens.operator)).send(body);
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 422]);
    }
    expect(read(`${mem(path)}/memory.limit_in_bytes`)).toBe(memBefore);
    expect(read(target)).toBe(before);
    await t.http().delete(url(path)).set(as(t.tokens.operator));
  });

  it('does the same through GraphQL, with edges cgroup → processes → cgroups', async () => {
    const path = `${managed}/graph`;
    const created = await t.graphql(`mutation { createCgroup(path: "${path}", limits: { pids: { max: "32" } }) { path limits { pids { max } } } }`, t.tokens.operator);
    expect(created.body.data).toEqual({ createCgroup: { path, limits: { pids: { max: 32 } } } });
    const sleeper = start(['sleep', '600']);
    // the sleeper lives in this test's (unmanaged) cgroups: an operator may not pull it out of them, an admin may
    const pulled = await t.graphql(`mutation { moveProcess(path: "${path}", pid: ${sleeper.pid}) { result } }`, t.tokens.operator);
    expect(pulled.body.errors?.[0]?.extensions?.code).toBe('CGROUP_NOT_MANAGED');
    const moved = await t.graphql(`mutation { moveProcess(path: "${path}", pid: ${sleeper.pid}) { result } }`, t.tokens.admin);
    expect(moved.body.data).toEqual({ moveProcess: { result: 'moved' } });
    const set = await t.graphql(`mutation { setCgroupLimits(path: "${path}", limits: { memory: { max: "8000000" } }) { before { memory { max } } after { memory { max } } } }`, t.tokens.operator);
    expect(set.body.data).toEqual({ setCgroupLimits: { before: { memory: { max: null } }, after: { memory: { max: 7999488 } } } });
    const graph = await t.graphql(
      `{ cgroup(path: "${path}") { type limits { cpuset { cpus effectiveCpus } } pids processes { pid cgroups { path } } stats { memory { usage } pids { current } } } }`,
      t.tokens.viewer,
    );
    const cg = graph.body.data!.cgroup as {
      type: string | null;
      limits: { cpuset: { cpus: string; effectiveCpus: string | null } };
      pids: number[];
      processes: { pid: number; cgroups: { path: string }[] }[];
      stats: { pids: { current: number } };
    };
    expect(cg.type).toBe(read(`/sys/fs/cgroup/unified${path}/cgroup.type`));
    expect(cg.limits.cpuset).toEqual({ cpus: read(`/sys/fs/cgroup/cpuset${path}/cpuset.cpus`), effectiveCpus: read(`/sys/fs/cgroup/cpuset${path}/cpuset.effective_cpus`) });
    expect(cg.pids).toEqual([sleeper.pid]);
    expect(cg.processes[0]!.cgroups.some((c) => c.path === path)).toBe(true);
    expect(cg.stats.pids.current).toBe(1);
    const denied = await t.graphql(`mutation { killCgroup(path: "${path}") { result } }`, t.tokens.viewer);
    expect(denied.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(alive(sleeper.pid!)).toBe(true);
    // kill is an admin's (API.md)
    const operatorKill = await t.graphql(`mutation { killCgroup(path: "${path}") { result } }`, t.tokens.operator);
    expect(operatorKill.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(alive(sleeper.pid!)).toBe(true);
    await t.graphql(`mutation { killCgroup(path: "${path}") { result } }`, t.tokens.admin);
    await waitFor(async () => !alive(sleeper.pid!), 5000, 20);
    const deleted = await t.graphql(`mutation { deleteCgroup(path: "${path}") { result } }`, t.tokens.operator);
    expect(deleted.body.data).toEqual({ deleteCgroup: { result: 'deleted' } });
  });

  it('audits each change with before and after, and each refusal under the caller', async () => {
    const page = await t.http().get(`/v1/audit?target=cgroup:${managed}/tutorial&limit=50`).set(as(t.tokens.admin));
    const limits = page.body.items.find((e: { action: string; stage: string }) => e.action === 'cgroup.limits' && e.stage === 'completed');
    expect(limits).toMatchObject({ result: 'ok', caller: { name: 'ops', role: 'operator' }, after: { memory: { max: 7999488 } } });
    expect(page.body.items.some((e: { action: string; stage: string }) => e.action === 'cgroup.limits' && e.stage === 'received')).toBe(true);
    const refused = await t.http().get(`/v1/audit?caller=grafana&limit=50`).set(as(t.tokens.admin));
    expect(refused.body.items.some((e: { action: string; result: string }) => e.action === 'cgroup.kill' && e.result === 'denied')).toBe(true);
  });
});
