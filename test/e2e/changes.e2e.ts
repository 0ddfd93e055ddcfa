// Changes a tuner can trust, on this host's kernel and the private engine: preconditions
// (If-Match / ifVersion → 412 with the current values, nothing written), dry runs (the plan
// the real change then carries out, nothing written before), Idempotency-Key (one write,
// another body 422, remembered across a restart on the same state folder) and batches (all or
// nothing: a failing last item leaves every earlier cgroup and container as it was).
// Everything lives below this run's cgroup parent and in containers this file starts.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventsService } from '../../src/events/events.service.js';
import { startTestApp, type TestApp, waitFor } from './support/app.js';
import { cgroupDir, cgroupHierarchies } from './support/cgroupfs.js';
import { makeTestCgroup, type TestCgroup } from './support/cgroups.js';
import { dockerJson, removeContainer, runContainer, TEST_IMAGE, type TestContainer } from './support/docker.js';

const LIMIT_FILES = [
  'memory.limit_in_bytes',
  'memory.memsw.limit_in_bytes',
  'memory.max',
  'memory.high',
  'memory.swap.max',
  'pids.max',
  'cpu.cfs_quota_us',
  'cpu.cfs_period_us',
  'cpu.shares',
  'cpu.max',
  'cpu.weight',
  'cpuset.cpus',
  'cpuset.mems',
];

/** Every limit file of a cgroup in every hierarchy, as the kernel has it now: what "unchanged" is checked against. */
function kernelFiles(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of cgroupHierarchies()) {
    const dir = cgroupDir(h, path);
    if (!dir || !existsSync(dir)) continue;
    for (const file of LIMIT_FILES) {
      const full = join(dir, file);
      if (existsSync(full)) out[full] = readFileSync(full, 'utf8').trim();
    }
  }
  return out;
}

/** The engine's view of a container's limits (docker inspect). */
async function inspectLimits(id: string): Promise<Record<string, unknown>> {
  const [info] = await dockerJson<{ HostConfig: Record<string, unknown> }[]>(['inspect', id]);
  const h = info!.HostConfig;
  return { Memory: h.Memory, MemorySwap: h.MemorySwap, NanoCpus: h.NanoCpus, CpuShares: h.CpuShares, PidsLimit: h.PidsLimit };
}

function memoryDir(path: string): string {
  const h = cgroupHierarchies().find((x) => (x.version === 1 && x.controllers.includes('memory')) || x.version === 2)!;
  return cgroupDir(h, path)!;
}

function pidsFile(path: string): string {
  const h = cgroupHierarchies().find((x) => x.version === 1 && x.controllers.includes('pids')) ?? cgroupHierarchies().find((x) => x.version === 2)!;
  return join(cgroupDir(h, path)!, 'pids.max');
}

interface AuditLine {
  action: string;
  stage: string;
  target: string;
  result: string;
  after: unknown;
}

describe('changes a tuner can trust', () => {
  let t: TestApp;
  let managed: string;
  let root: TestCgroup | undefined;
  let db: TestContainer;
  const stateDir = mkdtempSync(join(tmpdir(), 'nsgate-changes-e2e-'));
  let starts = 0;
  const as = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
  const url = (path: string, action?: string) => `/v1/cgroups${path}${action ? `/-/${action}` : ''}`;
  const auditLines = (): AuditLine[] =>
    readFileSync(t.config.auditFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditLine)
      .filter((l) => l.stage === 'completed');
  const completed = (action: string, target?: string) =>
    auditLines().filter((l) => l.result === 'ok' && l.action === action && (target === undefined || l.target === target)).length;

  /** limits.changed events the running app published for a target (its replay buffer). */
  const changedEvents = (target: string) =>
    t.app
      .get(EventsService)
      .bus.replay(0)
      .events.filter((e) => e.type === 'limits.changed' && e.target === target);

  /** The app on this file's own state folder (a fresh tokens file each start: the same token names, new secrets). */
  const start = () =>
    startTestApp({ NSGATE_MANAGED_CGROUPS: managed, NSGATE_DATA_DIR: stateDir, NSGATE_TOKENS_FILE: join(stateDir, `tokens-${++starts}.json`) });

  async function makeCgroup(path: string, limits?: unknown): Promise<void> {
    const res = await t.http().put(url(path)).set(as(t.tokens.operator)).send(limits ? { limits } : {});
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }

  beforeAll(async () => {
    // the managed root, made in every hierarchy by the harness; nsgate creates what is below it
    root = makeTestCgroup('changes');
    managed = root.path;
    t = await start();
    db = await runContainer('changes-db', ['--memory', '64m', '--pids-limit', '100', TEST_IMAGE, 'sleep', '600']);
  });

  afterAll(async () => {
    if (db) await removeContainer(db.id);
    await t?.close();
    root?.remove();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('a cgroup change with a stale If-Match is 412 with the current values and version, and writes nothing', async () => {
    const path = `${managed}/pre`;
    await makeCgroup(path, { pids: { max: 50 } });
    const got = await t.http().get(url(path)).set(as(t.tokens.viewer));
    const read = got.body.limitsVersion as string;
    expect(read).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // the GET's ETag is the representation's (usage moves it); the limits version is the body's, and GraphQL's
    expect(got.headers.etag).toBeDefined();
    const viaGraphql = await t.graphql(`{ cgroup(path: "${path}") { limitsVersion } }`, t.tokens.viewer);
    expect(viaGraphql.body.data).toEqual({ cgroup: { limitsVersion: read } });

    const ok = await t.http().patch(url(path, 'limits')).set(as(t.tokens.operator)).set('if-match', `"${read}"`).send({ pids: { max: 60 } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.headers.etag).toBe(`"${ok.body.version}"`);
    expect(ok.body.version).not.toBe(read);
    expect((await t.http().get(url(path)).set(as(t.tokens.viewer))).body.limitsVersion).toBe(ok.body.version);

    // someone else moves the limit behind nsgate's back
    writeFileSync(pidsFile(path), '70');
    const before = kernelFiles(path);
    const stale = await t.http().patch(url(path, 'limits')).set(as(t.tokens.operator)).set('if-match', `"${ok.body.version}"`).send({ pids: { max: 80 }, memory: { max: '32M' } });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('PRECONDITION_FAILED');
    expect(stale.body.error.details.current.pids.max).toBe(70);
    const now = (await t.http().get(url(path)).set(as(t.tokens.viewer))).body.limitsVersion;
    expect(stale.body.error.details.version).toBe(now);
    expect(kernelFiles(path)).toEqual(before);

    // GraphQL: ifVersion, the same refusal; the current version goes through
    const mutation = `mutation($v: String) { setCgroupLimits(path: "${path}", limits: {pids: {max: "90"}}, ifVersion: $v) { version after { pids { max } } } }`;
    const refused = await t.graphql(mutation, t.tokens.operator, { v: read });
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('PRECONDITION_FAILED');
    expect(kernelFiles(path)).toEqual(before);
    const applied = await t.graphql(mutation, t.tokens.operator, { v: now });
    expect(applied.body.errors).toBeUndefined();
    expect(readFileSync(pidsFile(path), 'utf8').trim()).toBe('90');
  });

  it('a container change with a stale If-Match is 412 and the engine and kernel keep their values', async () => {
    const got = await t.http().get(`/v1/containers/${db.id}`).set(as(t.tokens.viewer));
    expect(got.status).toBe(200);
    const read = got.body.limitsVersion as string;
    expect(read).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect((await t.graphql(`{ container(id: "${db.id}") { limitsVersion } }`, t.tokens.viewer)).body.data).toEqual({ container: { limitsVersion: read } });
    // docker update from elsewhere moves the version
    const { docker } = await import('./support/docker.js');
    await docker(['update', '--pids-limit', '120', db.id]);
    const engineBefore = await inspectLimits(db.id);
    const kernelBefore = kernelFiles(`/docker/${db.id}`);
    const stale = await t.http().patch(`/v1/containers/${db.id}/limits`).set(as(t.tokens.operator)).set('if-match', read).send({ memory: '48m' });
    expect(stale.status).toBe(412);
    expect(stale.body.error.details.current.engine.pidsLimit).toBe(120);
    expect(await inspectLimits(db.id)).toEqual(engineBefore);
    expect(kernelFiles(`/docker/${db.id}`)).toEqual(kernelBefore);
    // reads take the engine's values from the live model, which follows the engine's update event
    await waitFor(async () => (await t.http().get(`/v1/containers/${db.id}`).set(as(t.tokens.viewer))).body.limitsVersion === stale.body.error.details.version);
  });

  it('a dry run answers the plan the real change then carries out, and writes nothing', async () => {
    const parent = `${managed}/dry`;
    const path = `${parent}/child`;
    await makeCgroup(parent, { memory: { max: '64M' }, cpuset: { cpus: '0' } });
    await makeCgroup(path);
    const body = { memory: { max: '32M' }, pids: { max: 77 }, cpu: { max: '50000 100000' } };
    const before = kernelFiles(path);
    const version = (await t.http().get(url(path)).set(as(t.tokens.viewer))).body.limitsVersion;
    const changesBefore = completed('cgroup.limits');

    const dry = await t.http().patch(`${url(path, 'limits')}?dryRun=true`).set(as(t.tokens.operator)).send(body);
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body.dryRun).toBe(true);
    expect(dry.body.version).toBe(version);
    expect(dry.body.writes.length).toBeGreaterThanOrEqual(3);
    expect(dry.body.writes.map((w: { file: string }) => w.file.split('/').pop())).toEqual(expect.arrayContaining(['pids.max']));
    for (const w of dry.body.writes as { file: string; from: string; to: string }[]) expect(before[w.file], w.file).toBe(w.from);
    expect(kernelFiles(path)).toEqual(before);
    // audited as a dry run, not as a change (so no limits.changed event either)
    expect(completed('cgroup.limits')).toBe(changesBefore);
    expect(completed('cgroup.limits.dry-run', `cgroup:${path}`)).toBe(1);
    expect(changedEvents(`cgroup:${path}`)).toEqual([]);

    const real = await t.http().patch(url(path, 'limits')).set(as(t.tokens.operator)).send(body);
    expect(real.status).toBe(200);
    expect(real.body.dryRun).toBe(false);
    expect(real.body.writes).toEqual(dry.body.writes);
    expect(readFileSync(pidsFile(path), 'utf8').trim()).toBe('77');
    expect(changedEvents(`cgroup:${path}`)).toHaveLength(1);

    // preflight: a cpuset outside the parent's and a memory limit above the parent's; still nothing written
    const after = kernelFiles(path);
    const risky = await t.http().patch(`${url(path, 'limits')}?dryRun=true`).set(as(t.tokens.operator)).send({ memory: { max: '128M' }, cpuset: { cpus: '1' } });
    expect(risky.status).toBe(200);
    const codes = (risky.body.findings as { code: string; severity: string; field: string }[]).map((f) => `${f.code}:${f.field}:${f.severity}`);
    expect(codes).toEqual(expect.arrayContaining(['PARENT_LIMIT_LOWER:memory.max:warning', 'CPUSET_OUTSIDE_PARENT:cpuset.cpus:error']));
    expect(kernelFiles(path)).toEqual(after);
  });

  it('a container dry run plans the engine fields the real change then sends', async () => {
    const engineBefore = await inspectLimits(db.id);
    const kernelBefore = kernelFiles(`/docker/${db.id}`);
    const dry = await t.http().patch(`/v1/containers/${db.id}/limits?dryRun=true`).set(as(t.tokens.operator)).send({ memory: '48m', pidsLimit: 40 });
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body.writes).toEqual([
      { field: 'Memory', from: 64 * 1024 * 1024, to: 48 * 1024 * 1024 },
      { field: 'PidsLimit', from: 120, to: 40 },
    ]);
    expect(await inspectLimits(db.id)).toEqual(engineBefore);
    expect(kernelFiles(`/docker/${db.id}`)).toEqual(kernelBefore);
    const real = await t.http().patch(`/v1/containers/${db.id}/limits`).set(as(t.tokens.operator)).set('if-match', dry.body.version).send({ memory: '48m', pidsLimit: 40 });
    expect(real.status, JSON.stringify(real.body)).toBe(200);
    expect(real.body.writes).toEqual(dry.body.writes);
    expect(await inspectLimits(db.id)).toMatchObject({ Memory: 48 * 1024 * 1024, PidsLimit: 40 });
    expect(readFileSync(join(memoryDir(`/docker/${db.id}`), 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(48 * 1024 * 1024));
  });

  it('the same Idempotency-Key answers the first answer without a second write, another body is 422, and a restart remembers it', async () => {
    const path = `${managed}/idem`;
    await makeCgroup(path);
    const key = `tuner-${Date.now()}`;
    const body = { pids: { max: 55 } };
    const first = await t.http().patch(url(path, 'limits')).set(as(t.tokens.operator)).set('idempotency-key', key).send(body);
    expect(first.status).toBe(200);
    expect(readFileSync(pidsFile(path), 'utf8').trim()).toBe('55');
    // a kernel-side marker: a second write would put 55 back
    writeFileSync(pidsFile(path), '66');

    const again = await t.http().patch(url(path, 'limits')).set(as(t.tokens.operator)).set('idempotency-key', key).send(body);
    expect(again.status).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(readFileSync(pidsFile(path), 'utf8').trim()).toBe('66');
    expect(completed('cgroup.limits', `cgroup:${path}`)).toBe(1);
    expect(completed('cgroup.limits.replay', `cgroup:${path}`)).toBe(1);
    expect(changedEvents(`cgroup:${path}`)).toHaveLength(1);

    const other = await t.http().patch(url(path, 'limits')).set(as(t.tokens.operator)).set('idempotency-key', key).send({ pids: { max: 56 } });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(readFileSync(pidsFile(path), 'utf8').trim()).toBe('66');

    // GraphQL: idempotencyKey, the same rules
    const gql = (max: string) => t.graphql(`mutation { setCgroupLimits(path: "${path}", limits: {pids: {max: "${max}"}}, idempotencyKey: "${key}-gql") { version after { pids { max } } } }`, t.tokens.operator);
    const g1 = await gql('44');
    expect(g1.body.errors).toBeUndefined();
    writeFileSync(pidsFile(path), '66');
    const g2 = await gql('44');
    expect(g2.body.data).toEqual(g1.body.data);
    expect(readFileSync(pidsFile(path), 'utf8').trim()).toBe('66');
    expect((await gql('45')).body.errors?.[0]?.extensions?.code).toBe('IDEMPOTENCY_KEY_REUSED');

    // a restart on the same state folder
    await t.app.close();
    t = await start();
    const afterRestart = await t.http().patch(url(path, 'limits')).set(as(t.tokens.operator)).set('idempotency-key', key).send(body);
    expect(afterRestart.status).toBe(200);
    expect(afterRestart.headers['idempotent-replayed']).toBe('true');
    expect(afterRestart.body).toEqual(first.body);
    expect(readFileSync(pidsFile(path), 'utf8').trim()).toBe('66');
    expect((await t.http().patch(url(path, 'limits')).set(as(t.tokens.operator)).set('idempotency-key', key).send({ pids: { max: 57 } })).status).toBe(422);
    // one REST write and one GraphQL write, whatever was replayed
    expect(completed('cgroup.limits', `cgroup:${path}`)).toBe(2);
    // the key is the caller's: another caller with the same key makes its own change
    const admin = await t.http().patch(url(path, 'limits')).set(as(t.tokens.admin)).set('idempotency-key', key).send(body);
    expect(admin.status).toBe(200);
    expect(admin.headers['idempotent-replayed']).toBeUndefined();
    expect(readFileSync(pidsFile(path), 'utf8').trim()).toBe('55');
  });

  it('a batch whose last item fails leaves every earlier cgroup and container exactly as before', async () => {
    const parent = `${managed}/batch`;
    const a = `${parent}/a`;
    const b = `${parent}/b`;
    await makeCgroup(parent, { cpuset: { cpus: '0' } });
    await makeCgroup(a);
    await makeCgroup(b);
    const kernelA = kernelFiles(a);
    const kernelB = kernelFiles(b);
    const kernelDb = kernelFiles(`/docker/${db.id}`);
    const engineDb = await inspectLimits(db.id);
    const first = [
      { cgroup: a, limits: { memory: { max: '40M' }, pids: { max: 33 } } },
      { container: db.name, limits: { memory: '56m', pidsLimit: 44 } },
    ];

    // the kernel refuses the last item (a cpuset outside the parent's) after the first two were written
    const cpuset = await t.http().post('/v1/changes').set(as(t.tokens.operator)).send({ changes: [...first, { cgroup: b, limits: { cpuset: { cpus: '1' } } }] });
    expect(cpuset.status, JSON.stringify(cpuset.body)).toBe(422);
    expect(cpuset.body.error.code).toBe('LIMIT_INVALID');
    expect(cpuset.body.error.details.failed).toMatchObject({ index: 2, target: `cgroup:${b}`, code: 'LIMIT_INVALID' });
    expect(cpuset.body.error.details.restored).toEqual([`container:${db.name}`, `cgroup:${a}`]);
    expect(kernelFiles(a)).toEqual(kernelA);
    expect(kernelFiles(b)).toEqual(kernelB);
    expect(kernelFiles(`/docker/${db.id}`)).toEqual(kernelDb);
    expect(await inspectLimits(db.id)).toEqual(engineDb);

    // a container that does not exist: refused before anything is written
    const missing = await t.http().post('/v1/changes').set(as(t.tokens.operator)).send({ changes: [...first, { container: 'changes-no-such-container', limits: { pidsLimit: 5 } }] });
    expect(missing.status).toBe(404);
    expect(missing.body.error.details.failed).toMatchObject({ index: 2, code: 'CONTAINER_NOT_FOUND' });
    expect(kernelFiles(a)).toEqual(kernelA);
    expect(kernelFiles(`/docker/${db.id}`)).toEqual(kernelDb);
    expect(await inspectLimits(db.id)).toEqual(engineDb);

    // a stale ifVersion on one item: 412, nothing written
    const stale = await t.http().post('/v1/changes').set(as(t.tokens.operator)).send({ changes: [first[0], { ...first[1], ifVersion: 'AAAAAAAAAAAAAAAAAAAAAA' }] });
    expect(stale.status).toBe(412);
    expect(stale.body.error.details.failed.details.version).toBeDefined();
    expect(kernelFiles(a)).toEqual(kernelA);

    // a dry run of the good batch plans both and writes nothing; then the batch itself
    const dry = await t.http().post('/v1/changes?dryRun=true').set(as(t.tokens.operator)).send({ changes: first });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, wouldApply: true });
    expect(kernelFiles(a)).toEqual(kernelA);
    const batchesBefore = completed('changes.apply');
    const ok = await t.http().post('/v1/changes').set(as(t.tokens.operator)).set('idempotency-key', `batch-${Date.now()}`).send({ changes: first });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.items.map((i: { target: string }) => i.target)).toEqual([`cgroup:${a}`, `container:${db.name}`]);
    expect(ok.body.items[0].cgroup.writes).toEqual(dry.body.items[0].cgroup.writes);
    expect(ok.body.items[1].container.writes).toEqual(dry.body.items[1].container.writes);
    expect(readFileSync(pidsFile(a), 'utf8').trim()).toBe('33');
    expect(await inspectLimits(db.id)).toMatchObject({ Memory: 56 * 1024 * 1024, PidsLimit: 44 });
    expect(completed('changes.apply')).toBe(batchesBefore + 1);
    const line = auditLines().filter((l) => l.action === 'changes.apply').pop()!;
    expect((line.after as { target: string }[]).map((i) => i.target)).toEqual([`cgroup:${a}`, `container:${db.name}`]);
    // one limits.changed per item (containers named by their full id), none for the refused batches
    await waitFor(async () => changedEvents(`container:${db.id}`).length > 0);
    expect(changedEvents(`cgroup:${a}`).map((e) => (e.data.after as { pids: { max: number } }).pids.max)).toEqual([33]);

    // GraphQL: applyChanges, a dry run with typed limits
    const gql = await t.graphql(
      `mutation { applyChanges(dryRun: true, changes: [{cgroup: "${a}", cgroupLimits: {pids: {max: "12"}}}, {container: "${db.name}", containerLimits: {pidsLimit: 12}}]) { dryRun wouldApply items { index target cgroup { writes { file from to } } container { writes { field from to } } } } }`,
      t.tokens.operator,
    );
    expect(gql.body.errors).toBeUndefined();
    const items = (gql.body.data!.applyChanges as { items: { cgroup?: { writes: unknown[] }; container?: { writes: unknown[] } }[] }).items;
    expect(items[0]!.cgroup!.writes).toEqual([{ file: pidsFile(a), from: '33', to: '12' }]);
    expect(items[1]!.container!.writes).toEqual([{ field: 'PidsLimit', from: 44, to: 12 }]);
    expect(readFileSync(pidsFile(a), 'utf8').trim()).toBe('33');
  });

  it('refuses batches that are too large, empty, or name one target twice, and viewers', async () => {
    const path = `${managed}/batch/a`;
    const item = { cgroup: path, limits: { pids: { max: 10 } } };
    const big = await t.http().post('/v1/changes').set(as(t.tokens.operator)).send({ changes: Array.from({ length: 65 }, () => item) });
    expect([big.status, big.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect((await t.http().post('/v1/changes').set(as(t.tokens.operator)).send({ changes: [] })).status).toBe(400);
    const twice = await t.http().post('/v1/changes').set(as(t.tokens.operator)).send({ changes: [item, item] });
    expect([twice.status, twice.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect((await t.http().post('/v1/changes').set(as(t.tokens.viewer)).send({ changes: [item] })).status).toBe(403);
    expect(readFileSync(pidsFile(path), 'utf8').trim()).toBe('33');
  });
});
