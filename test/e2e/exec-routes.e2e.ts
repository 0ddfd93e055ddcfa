import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp, waitFor } from './support/app.js';
import { makeTestCgroup, type TestCgroup } from './support/cgroups.js';
import { removeContainer, runContainer, TEST_IMAGE, type TestContainer } from './support/docker.js';

describe('exec and sandboxes through the API', () => {
  let t: TestApp;
  let db: TestContainer;
  let internal: TestCgroup;
  const post = (url: string, body: unknown, token = t.tokens.admin) => t.http().post(url).set('authorization', `Bearer ${token}`).send(body as object);

  beforeAll(async () => {
    internal = makeTestCgroup('internal');
    db = await runContainer('db', [TEST_IMAGE, 'sh', '-c', 'sleep 3600 & sleep 3600 & wait']);
    t = await startTestApp({ NSGATE_INTERNAL_CGROUP: internal.path });
  });
  afterAll(async () => {
    await t?.close();
    if (db) await removeContainer(db.id);
    internal?.remove();
  });

  it("runs the tutorial's ps aux in db's namespaces: only db's processes, its first as PID 1", async () => {
    const res = await post(`/v1/containers/${db.name}/exec`, { argv: ['ps', 'aux'] });
    expect(res.status).toBe(200);
    expect(res.body.exitCode).toBe(0);
    const rows = (res.body.stdout as string).trim().split('\n').slice(1);
    const pids = rows.map((r) => Number(r.trim().split(/\s+/)[0]));
    expect(pids[0]).toBe(1);
    // sh, two sleeps and ps itself: nothing of the host
    expect(rows.some((r) => r.includes('sleep 3600'))).toBe(true);
    expect(rows.length).toBeLessThanOrEqual(5);
    expect(res.body.target.pid).toBe(db.pid);
    expect(res.body.namespaces.pid).toBeGreaterThan(0);
  });

  it('passes no host descriptor to the command: only 0, 1 and 2 (and the one ls opens)', async () => {
    const res = await post(`/v1/processes/${db.pid}/exec`, { argv: ['ls', '/proc/self/fd'] });
    expect(res.body.exitCode).toBe(0);
    const fds = (res.body.stdout as string).trim().split(/\s+/).map(Number).sort((a, b) => a - b);
    expect(fds.slice(0, 3)).toEqual([0, 1, 2]);
    expect(fds.length).toBeLessThanOrEqual(4);
  });

  it('kills the command at its timeout and caps its output', async () => {
    const slow = await post(`/v1/containers/${db.name}/exec`, { argv: ['sleep', '30'], timeoutMs: 500 });
    expect(slow.body).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
    const loud = await post(`/v1/containers/${db.name}/exec`, { argv: ['yes'], maxOutputBytes: 4096 });
    expect(loud.body.truncated).toBe(true);
    expect(loud.body.stdout.length).toBe(4096);
  });

  it('refuses operators, shells in cwd tricks, and a process that has gone', async () => {
    expect((await post(`/v1/containers/${db.name}/exec`, { argv: ['true'] }, t.tokens.operator)).status).toBe(403);
    expect((await post(`/v1/processes/${db.pid}/exec`, { argv: ['ls'], cwd: '/proc/self/cwd' })).status).toBe(400);
    const gone = spawn('sleep', ['60'], { stdio: 'ignore' });
    const pid = gone.pid!;
    gone.kill('SIGKILL');
    await new Promise((r) => gone.once('exit', r));
    const res = await post(`/v1/processes/${pid}/exec`, { argv: ['true'] });
    expect([404, 410]).toContain(res.status);
  });

  it('audits exec with argv, target and exit code, never the output', async () => {
    await post(`/v1/containers/${db.name}/exec`, { argv: ['echo', 'a-secret-output'], env: { TOKEN: 'hunter2' } });
    const log = readFileSync(`${t.dataDir}/audit.log`, 'utf8');
    const lines = log.trim().split('\n').map((l) => JSON.parse(l) as { action: string; stage: string; request: { argv: string[] }; after: { exitCode: number } });
    const done = lines.filter((l) => l.action === 'container.exec' && l.stage === 'completed' && l.request?.argv?.[1] === 'a-secret-output');
    expect(done).toHaveLength(1);
    expect(done[0]!.after.exitCode).toBe(0);
    expect(log).not.toContain('hunter2');
    expect(log.split('a-secret-output').length - 1).toBe(2); // in the request (received, completed), never as output
  });

  it("runs the tutorial's unshare: the sandbox sees itself as PID 1, has no capabilities, and is gone after DELETE", async () => {
    const created = await post('/v1/sandboxes', { argv: ['sh', '-c', 'ps -o pid,comm; grep CapEff /proc/self/status; sleep 30'], limits: { memory: { max: '64M' }, pids: { max: 32 } } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await waitFor(async () => ((await t.http().get(`/v1/sandboxes/${id}`).set('authorization', `Bearer ${t.tokens.admin}`)).body.stdout as string).includes('CapEff'), 10_000, 100);
    const sandbox = (await t.http().get(`/v1/sandboxes/${id}`).set('authorization', `Bearer ${t.tokens.admin}`)).body;
    expect(sandbox.stdout).toMatch(/^\s*1\s+sh$/m);
    expect(sandbox.stdout).toMatch(/CapEff:\s+0000000000000000/);
    expect(sandbox.limits.memory.max).toBe(64 * 1024 * 1024);
    // other runtimes' containers are indexed in the background every 5 s
    await waitFor(async () => {
      const listed = await t.http().get('/v1/containers').set('authorization', `Bearer ${t.tokens.viewer}`);
      return (listed.body.items as { id: string; runtime: string; source: string }[]).some((c) => c.id === id && c.runtime === 'nsgate' && c.source === 'cgroup');
    }, 12_000, 500);
    const path = `/sys/fs/cgroup/memory${sandbox.cgroupPath}`;
    expect(existsSync(path)).toBe(true);
    const deleted = await t.http().delete(`/v1/sandboxes/${id}`).set('authorization', `Bearer ${t.tokens.admin}`);
    expect(deleted.status).toBe(200);
    expect(existsSync(path)).toBe(false);
  });

  it('reports a sandbox that outgrows its memory limit as oom-killed', async () => {
    const created = await post('/v1/sandboxes', { argv: [process.execPath, '-e', 'const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1))'], limits: { memory: { max: '32M', swapMax: 0 } } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    let state = '';
    await waitFor(async () => {
      state = (await t.http().get(`/v1/sandboxes/${id}`).set('authorization', `Bearer ${t.tokens.admin}`)).body.state as string;
      return state !== 'running' && state !== 'starting';
    }, 30_000, 200);
    expect(state).toBe('oom-killed');
    await t.http().delete(`/v1/sandboxes/${id}`).set('authorization', `Bearer ${t.tokens.admin}`);
  });
});
