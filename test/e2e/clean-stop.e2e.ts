// A clean stop leaves none of nsgate's own cgroups behind (issue 13, first hour): after an exec
// and a sandbox, SIGTERM, and the exec and sandbox parents are gone in every hierarchy.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTestCgroup, type TestCgroup } from './support/cgroups.js';
import { startService, type RunningService } from './support/service.js';

describe('a clean stop', () => {
  let svc: RunningService | undefined;
  let internal: TestCgroup | undefined;
  let sleeper: ChildProcess | undefined;
  afterAll(async () => {
    sleeper?.kill('SIGKILL');
    await svc?.stop('SIGKILL');
    if (svc) rmSync(svc.dataDir, { recursive: true, force: true });
    internal?.remove();
  });

  it('removes the exec and sandbox cgroups it made', async () => {
    internal = makeTestCgroup('clean-stop');
    svc = await startService({ NSGATE_INTERNAL_CGROUP: internal.path, NSGATE_MANAGED_CGROUPS: `${internal.path}/managed`, DOCKER_HOST: 'unix:///nonexistent/nsgate-stop.sock' });
    const token = readFileSync(join(svc.dataDir, 'admin.token'), 'utf8').trim();
    const post = (path: string, body: unknown) => fetch(`${svc!.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    expect((await post(`/v1/processes/${sleeper.pid}/exec`, { argv: ['true'], privileged: true })).status).toBe(200);
    expect((await post('/v1/sandboxes', { argv: ['sleep', '30'] })).status).toBe(201);
    const made = [...internal.dirs.values()].flatMap((dir) => ['exec', 'sandboxes'].map((name) => join(dir, name))).filter((d) => existsSync(d));
    expect(made.length).toBeGreaterThan(0);

    await svc.stop('SIGTERM');
    expect(made.filter((d) => existsSync(d))).toEqual([]);
  });
});
