// The tutorial behind nsgate, step by step through the API, against the private engine:
// db and web (web joins db's network namespace), then ps/docker top, pstree, the
// environment, namespace links, cgroup paths, a memory limit of 8000000, docker stats.
import { readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp, waitFor } from './support/app.js';
import { docker, dockerJson, removeContainer, runContainer, TEST_IMAGE, type TestContainer } from './support/docker.js';

describe('the tutorial, through the API', () => {
  let t: TestApp;
  let db: TestContainer;
  let web: TestContainer;
  let bystander: TestContainer;
  const get = (url: string, token = t.tokens.viewer) => t.http().get(url).set('authorization', `Bearer ${token}`);

  beforeAll(async () => {
    db = await runContainer('db', ['-e', 'REDIS_PASSWORD=s3cret', '-e', 'PLAIN=visible', TEST_IMAGE, 'sh', '-c', 'sleep 3600 & sleep 3600 & wait']);
    web = await runContainer('web', [`--net=container:${db.name}`, TEST_IMAGE, 'sleep', '3600']);
    // shares only the host's namespaces (user, cgroup, time) with web: not a container web shares with
    bystander = await runContainer('bystander', [TEST_IMAGE, 'sleep', '3600']);
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
    for (const c of [bystander, web, db]) if (c) await removeContainer(c.id);
  });

  it('finds db by name, id and prefix, with its init pid, cgroup path and namespaces', async () => {
    for (const ref of [db.name, db.id, db.id.slice(0, 12)]) {
      const res = await get(`/v1/containers/${ref}`);
      expect(res.status, ref).toBe(200);
      expect(res.body).toMatchObject({ id: db.id, name: db.name, state: 'running', pid: db.pid, runtime: 'docker', source: 'engine', cgroupPath: `/docker/${db.id}` });
    }
    const res = await get(`/v1/containers/${db.name}`);
    expect(res.body.cgroups.length).toBeGreaterThan(5);
    for (const c of res.body.cgroups as { path: string }[]) expect(c.path).toBe(`/docker/${db.id}`);
    expect(res.body.namespaces.net).toBe(Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${db.pid}/ns/net`))![1]));
    expect((await get('/v1/containers/nope-not-there')).status).toBe(404);
  });

  it('sees that web shares db\'s net namespace, from both containers and from the namespace', async () => {
    const w = await get(`/v1/containers/${web.name}`);
    const d = await get(`/v1/containers/${db.name}`);
    expect(w.body.namespaces.net).toBe(d.body.namespaces.net);
    expect(w.body.namespaces.pid).not.toBe(d.body.namespaces.pid);
    expect(w.body.sharedNamespaces).toContainEqual({ type: 'net', inode: d.body.namespaces.net, with: [db.id] });
    expect(d.body.sharedNamespaces).toContainEqual({ type: 'net', inode: d.body.namespaces.net, with: [web.id] });
    const ns = await get(`/v1/namespaces/net/${d.body.namespaces.net}`);
    expect(ns.body.processes.map((p: { pid: number }) => p.pid)).toEqual(expect.arrayContaining([db.pid, web.pid]));
    const p = await get(`/v1/processes/${web.pid}`);
    expect(p.body.namespaces.net).toBe(d.body.namespaces.net);
    expect(p.body.containerId).toBe(web.id);
  });

  it('lists db\'s processes as docker top does, with the pid inside and the shim above', async () => {
    const top = await get(`/v1/containers/${db.name}/top`);
    expect(top.status).toBe(200);
    const theirs = (await docker(['top', db.id, '-eo', 'pid'])).split('\n').slice(1).map(Number).filter(Boolean).sort();
    expect(top.body.processes.map((p: { pid: number }) => p.pid).sort()).toEqual(theirs);
    const init = top.body.processes.find((p: { pid: number }) => p.pid === db.pid);
    expect(init.pidInContainer).toBe(1);
    expect(top.body.processes.filter((p: { command: string }) => p.command === 'sleep 3600')).toHaveLength(2);
    const chain = top.body.ancestors.map((a: { comm: string }) => a.comm);
    expect(chain[0]).toMatch(/containerd-shim/);
    const detail = await get(`/v1/processes/${db.pid}`);
    expect(detail.body.ancestors.map((a: { pid: number }) => a.pid)).toEqual(top.body.ancestors.map((a: { pid: number }) => a.pid));
  });

  it('lists db\'s processes with ?container= by name, as by id prefix, as docker top does', async () => {
    const theirs = (await docker(['top', db.id, '-eo', 'pid'])).split('\n').slice(1).map(Number).filter(Boolean).sort();
    for (const ref of [db.name, db.id.slice(0, 12)]) {
      const res = await get(`/v1/processes?container=${ref}`);
      expect(res.status, ref).toBe(200);
      expect(res.body.items.map((p: { pid: number }) => p.pid).sort(), ref).toEqual(theirs);
    }
    const gql = await t.graphql(`{ processes(container: "${web.name}") { items { pid containerId } } }`, t.tokens.viewer);
    expect(gql.body.data).toEqual({ processes: { items: [{ pid: web.pid, containerId: web.id }] } });
    const unknown = await get('/v1/processes?container=no-such-container');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('CONTAINER_NOT_FOUND');
    expect((await get('/v1/processes?container=a%20b')).body.error.code).toBe('VALIDATION_FAILED');
  });

  it('gives db\'s environment keys to a viewer and values to an admin, by REST and GraphQL', async () => {
    const keys = await get(`/v1/processes/${db.pid}/environ`);
    expect(keys.body.variables).toContainEqual({ key: 'REDIS_PASSWORD', value: null });
    const values = await get(`/v1/processes/${db.pid}/environ?reveal=true`, t.tokens.admin);
    expect(values.body.variables).toContainEqual({ key: 'REDIS_PASSWORD', value: 's3cret' });
    const query = (reveal: boolean) => `{ processEnvironment(pid: ${db.pid}, reveal: ${reveal}) { pid revealed variables { key value } } }`;
    const gqlKeys = await t.graphql(query(false), t.tokens.viewer);
    expect(gqlKeys.body.data?.processEnvironment).toMatchObject({ pid: db.pid, revealed: false });
    expect((gqlKeys.body.data?.processEnvironment as { variables: unknown[] }).variables).toContainEqual({ key: 'REDIS_PASSWORD', value: null });
    const refused = await t.graphql(query(true), t.tokens.viewer);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const gqlValues = await t.graphql(query(true), t.tokens.admin);
    expect((gqlValues.body.data?.processEnvironment as { variables: unknown[] }).variables).toContainEqual({ key: 'REDIS_PASSWORD', value: 's3cret' });
    // the reveals are audited (REST's and GraphQL's), the viewer's as denied
    const audit = await get(`/v1/audit?action=process.environ.reveal&target=process:${db.pid}&limit=50`, t.tokens.admin);
    const reveals = audit.body.items as { stage: string; result: string; caller: { role: string } | null }[];
    expect(reveals.filter((e) => e.stage === 'completed' && e.result === 'ok' && e.caller?.role === 'admin')).toHaveLength(2);
    expect(reveals.filter((e) => e.result === 'denied' && e.caller?.role === 'viewer')).toHaveLength(1);
  });

  it('limits db to 8000000 bytes through the engine: docker inspect and the kernel agree (7999488)', async () => {
    const res = await t.http().patch(`/v1/containers/${db.name}/limits`).set('authorization', `Bearer ${t.tokens.operator}`).send({ memory: 8000000 });
    expect(res.status).toBe(200);
    expect(res.body.engineAfter.memory).toBe(8000000);
    expect(res.body.after.memory.max).toBe(7999488);
    const [inspect] = await dockerJson<{ HostConfig: { Memory: number } }[]>(['inspect', db.id]);
    expect(inspect!.HostConfig.Memory).toBe(8000000);
    expect(readFileSync(`/sys/fs/cgroup/memory/docker/${db.id}/memory.limit_in_bytes`, 'utf8').trim()).toBe('7999488');
    const small = await t.http().patch(`/v1/containers/${db.name}/limits`).set('authorization', `Bearer ${t.tokens.operator}`).send({ memory: '1M' });
    expect(small.status).toBe(422);
    expect(readFileSync(`/sys/fs/cgroup/memory/docker/${db.id}/memory.limit_in_bytes`, 'utf8').trim()).toBe('7999488');
    const viewer = await t.http().patch(`/v1/containers/${db.name}/limits`).set('authorization', `Bearer ${t.tokens.viewer}`).send({ memory: '64M' });
    expect(viewer.status).toBe(403);
  });

  it('answers stats without waiting, with a cpu percent once the sampler has a baseline', async () => {
    const first = await get(`/v1/containers/${db.name}/stats`);
    expect(first.status).toBe(200);
    expect(first.body.memory.limit).toBe(7999488);
    expect(first.body.memory.usage).toBeGreaterThan(0);
    expect(first.body.pids.current).toBe(3);
    await waitFor(async () => typeof (await get(`/v1/containers/${db.name}/stats`)).body.cpu.percent === 'number', 5000, 200);
    const bulk = await get('/v1/containers?stats=true');
    const mine = bulk.body.items.find((c: { id: string }) => c.id === db.id);
    expect(mine.stats.memory.limit).toBe(7999488);
  });

  it('answers the same through GraphQL, with edges to processes, cgroup and the containers it shares with', async () => {
    const res = await t.graphql(`{ container(id: "${web.name}") { id pid sharesWith { id name } processes { pid } cgroup { path limits { memory { max } } } security { seccomp { mode } capabilities { effective { hex } } findings { id } } } }`, t.tokens.viewer);
    expect(res.body.errors).toBeUndefined();
    const c = res.body.data!.container as { sharesWith: { id: string }[]; processes: { pid: number }[]; cgroup: { path: string }; security: { seccomp: { mode: number }; capabilities: { effective: { hex: string } }; findings: { id: string }[] } };
    expect(c.sharesWith.map((s) => s.id)).toEqual([db.id]);
    expect(c.processes.map((p) => p.pid)).toEqual([web.pid]);
    expect(c.cgroup.path).toBe(`/docker/${web.id}`);
    expect(c.security.seccomp.mode).toBe(2);
    expect(c.security.capabilities.effective.hex).toBe('00000000a80425fb');
    expect(c.security.findings.map((f) => f.id)).toEqual(['root_without_userns']);
    const updated = await t.graphql(`mutation { updateContainerLimits(id: "${web.name}", limits: { pidsLimit: 50 }) { engineAfter { pidsLimit } after { pids { max } } } }`, t.tokens.operator);
    expect(updated.body.data).toEqual({ updateContainerLimits: { engineAfter: { pidsLimit: 50 }, after: { pids: { max: 50 } } } });
  });
});
