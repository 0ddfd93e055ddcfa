// A clean stop leaves none of nsgate's own cgroups behind (issue 13, first hour): after an exec
// and a sandbox, SIGTERM, and the exec and sandbox parents are gone in every hierarchy.
// The sweep at start removes what a dead nsgate left there, and nothing a running one holds.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
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

describe('two services given the same internal cgroup', () => {
  const services: RunningService[] = [];
  let internal: TestCgroup | undefined;
  let sleeper: ChildProcess | undefined;
  afterAll(async () => {
    sleeper?.kill('SIGKILL');
    for (const svc of services) {
      await svc.stop('SIGKILL');
      rmSync(svc.dataDir, { recursive: true, force: true });
    }
    internal?.remove();
  });

  const start = async () => {
    const svc = await startService({ NSGATE_INTERNAL_CGROUP: internal!.path, NSGATE_MANAGED_CGROUPS: `${internal!.path}/managed`, DOCKER_HOST: 'unix:///nonexistent/nsgate-stop.sock' });
    services.push(svc);
    const token = readFileSync(join(svc.dataDir, 'admin.token'), 'utf8').trim();
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${svc.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { svc, call };
  };

  it('the second sweeps what a dead nsgate left, and leaves the running one\'s spare exec cgroup and sandbox alone', async () => {
    internal = makeTestCgroup('shared-internal');
    const first = await start();
    sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
    const exec = () => first.call('POST', `/v1/processes/${sleeper!.pid}/exec`, { argv: ['true'], privileged: true });
    expect((await exec()).status).toBe(200);
    const sandbox = (await (await first.call('POST', '/v1/sandboxes', { argv: ['sleep', '60'] })).json()) as { id: string; state: string };
    expect(sandbox.state).toBe('running');

    // what a crashed nsgate leaves: an exec cgroup named by an owner that is gone, and one from
    // before owners were named
    const leftovers = [...internal.dirs.values()]
      .map((dir) => join(dir, 'exec'))
      .filter((d) => existsSync(d))
      .flatMap((d) => ['4000000.12345.kq-left', 'mx6bx5nh-8414cbce6b09'].map((name) => join(d, name)));
    expect(leftovers.length).toBeGreaterThan(0);
    for (const d of leftovers) mkdirSync(d);

    const second = await start();
    expect(leftovers.filter((d) => existsSync(d))).toEqual([]);
    const after = (await (await first.call('GET', `/v1/sandboxes/${sandbox.id}`)).json()) as { state: string };
    expect(after.state).toBe('running');
    expect((await exec()).status).toBe(200);

    // the second's clean stop leaves the first's cgroups too
    await second.svc.stop('SIGTERM');
    expect(((await (await first.call('GET', `/v1/sandboxes/${sandbox.id}`)).json()) as { state: string }).state).toBe('running');
    expect((await exec()).status).toBe(200);
  });
});
