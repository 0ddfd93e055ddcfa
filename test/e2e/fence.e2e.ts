// Moves, freezes and kills stay inside the fence (issue 16, item 1), on the real kernel: the built
// service runs as pid 3 of a private pid namespace (pid 1 a shell, pid 2 a sleep), as an operator's
// fault test ran it, so "pid 1" and "nsgate itself" are real processes the routes can be asked about.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToken } from '../../src/auth/token-store.js';
import { loadConfig } from '../../src/config/config.js';
import { makeTestCgroup, type TestCgroup } from './support/cgroups.js';
import { startService, type RunningService } from './support/service.js';

const children = (pid: number): number[] =>
  readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
  );
const comm = (pid: number): string => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
/** The pid a host process has in its own (innermost) pid namespace. */
const innerPid = (pid: number): number => Number(/^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!.trim().split(/\s+/).pop());
const alive = (pid: number): boolean => {
  try {
    return !/^State:\s*Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};

describe('an operator stays inside the managed cgroups; nobody moves, freezes or kills nsgate', () => {
  let root: TestCgroup;
  let internal: TestCgroup;
  let svc: RunningService;
  let admin: string;
  let operator: string;
  let node: number; // host pids
  let sleeper: number;
  const inner = { init: 1, nsgate: 0, sleeper: 0 };

  const call = async (token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: { code?: string; details?: Record<string, unknown> } & Record<string, unknown> }> => {
    const res = await fetch(`${svc.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as { error?: object };
    // errors come as {"error": {code, message, details}}: the body is the error where there is one
    return { status: res.status, body: (json.error ?? json) as never };
  };
  const move = (token: string, cgroup: string, pid: number) => call(token, 'POST', `/v1/cgroups${cgroup}/-/processes`, { pid });
  const action = (token: string, cgroup: string, verb: string) => call(token, 'POST', `/v1/cgroups${cgroup}/-/${verb}`);
  const cgroupOf = (pid: number, controller: string): string | undefined =>
    readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]!.split(',').includes(controller))?.split(':')[2];

  beforeAll(async () => {
    root = makeTestCgroup('fence');
    internal = makeTestCgroup('fence-internal');
    for (const name of ['home', 'work', 'other']) makeTestCgroup(`fence/${name}`);
    svc = await startService(
      // no engine: this test is about cgroups, and the engine's absence must not matter
      { NSGATE_MANAGED_CGROUPS: root.path, NSGATE_INTERNAL_CGROUP: internal.path, DOCKER_HOST: 'unix:///nonexistent/nsgate-fence.sock' },
      undefined,
      ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', 'sh', '-c', 'sleep 1000 & "$@" & wait', 'sh'],
    );
    const [shell] = children(svc.child.pid!);
    const kids = children(shell!);
    node = kids.find((p) => comm(p) !== 'sleep')!;
    sleeper = kids.find((p) => comm(p) === 'sleep')!;
    inner.nsgate = innerPid(node);
    inner.sleeper = innerPid(sleeper);
    expect(innerPid(shell!)).toBe(1);
    // nsgate lives in <managed>/home in every hierarchy, as a service placed in its own cgroup does
    for (const dir of root.dirs.values()) writeFileSync(`${dir}/home/cgroup.procs`, String(node));
    admin = readFileSync(`${svc.dataDir}/admin.token`, 'utf8').trim();
    operator = await addToken(loadConfig({ NSGATE_DATA_DIR: svc.dataDir }).tokensFile, 'ops', 'operator');
    // the running service reloads the tokens file within a second
    for (let i = 0; i < 100 && (await call(operator, 'GET', `/v1/cgroups${root.path}`)).status === 401; i++) await new Promise((r) => setTimeout(r, 50));
  }, 60_000);

  afterAll(async () => {
    const freezer = root?.dirs.get('freezer');
    for (const name of ['home', '']) if (freezer) writeFileSync(`${freezer}/${name}/freezer.state`, 'THAWED');
    await svc?.stop('SIGKILL');
    if (svc) rmSync(svc.dataDir, { recursive: true, force: true });
    for (let i = 0; i < 100 && [node, sleeper].some((p) => p && alive(p)); i++) await new Promise((r) => setTimeout(r, 50));
    root?.remove();
    internal?.remove();
  });

  it('never moves pid 1 of its pid namespace or nsgate itself, whoever asks', async () => {
    for (const token of [operator, admin]) {
      for (const [pid, reason] of [[inner.init, 'init'], [inner.nsgate, 'nsgate']] as const) {
        const res = await move(token, `${root.path}/work`, pid);
        expect(res.status).toBe(403);
        expect(res.body).toMatchObject({ code: 'PROCESS_PROTECTED', details: { reason } });
      }
    }
    expect(cgroupOf(node, 'memory')).toBe(`${root.path}/home`);
  });

  it('lets an operator move a process only between managed cgroups; an admin may pull one in', async () => {
    const pulled = await move(operator, `${root.path}/work`, inner.sleeper);
    expect(pulled.status).toBe(403);
    expect(pulled.body.code).toBe('CGROUP_NOT_MANAGED');
    expect(cgroupOf(sleeper, 'memory')).not.toContain(root.path);

    expect((await move(admin, `${root.path}/work`, inner.sleeper)).status).toBe(200);
    expect(cgroupOf(sleeper, 'memory')).toBe(`${root.path}/work`);
    expect((await move(operator, `${root.path}/other`, inner.sleeper)).status).toBe(200);
    for (const controller of ['memory', 'pids', 'freezer', 'cpu']) expect(cgroupOf(sleeper, controller)).toBe(`${root.path}/other`);
  });

  it('refuses to freeze a cgroup holding nsgate, at any depth, and keeps answering', async () => {
    for (const cgroup of [`${root.path}/home`, root.path]) {
      const res = await action(operator, cgroup, 'freeze');
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: 'PROCESS_PROTECTED', details: { reason: 'nsgate' } });
      expect(readFileSync(`${root.dir('freezer')}${cgroup.slice(root.path.length)}/freezer.state`, 'utf8').trim()).toBe('THAWED');
    }
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
    // a cgroup without nsgate still freezes and thaws
    expect((await action(operator, `${root.path}/other`, 'freeze')).body).toMatchObject({ freezer: 'frozen' });
    expect((await action(operator, `${root.path}/other`, 'thaw')).body).toMatchObject({ freezer: 'thawed' });
  });

  it('kill is an admin\'s and never reaches nsgate', async () => {
    const byOperator = await action(operator, `${root.path}/other`, 'kill');
    expect(byOperator.status).toBe(403);
    expect(byOperator.body.code).toBe('FORBIDDEN');
    expect(alive(sleeper)).toBe(true);

    const home = await action(admin, `${root.path}/home`, 'kill');
    expect(home.status).toBe(403);
    expect(home.body).toMatchObject({ code: 'PROCESS_PROTECTED', details: { reason: 'nsgate' } });
    expect(alive(node)).toBe(true);

    expect((await action(admin, `${root.path}/other`, 'kill')).status).toBe(200);
    expect(alive(sleeper)).toBe(false);
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
  });
});
