// The audit log fails closed (issue 16, item 2) on a real full disk: a small tmpfs holds the state
// folder, and a filler file takes its last block. Also a disk turning read-only mid-change (as ext4
// does after an I/O error), to prove a change whose completed line cannot be written is put back.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { AuditEntry } from '../../src/audit/audit-entry.js';
import { AuditLog, AuditUnavailableError } from '../../src/audit/audit-log.js';
import { CgroupSystem } from '../../src/kernel/cgroups/system.js';
import { startTestApp, type TestApp } from './support/app.js';
import { makeTestCgroup, type TestCgroup } from './support/cgroups.js';
import { startService, type RunningService } from './support/service.js';

const mounts: string[] = [];
function smallDisk(size: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'nsgate-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'nsgate-test', dir]);
  mounts.push(dir);
  return dir;
}
/** Writes a filler file until the filesystem refuses (ENOSPC); returns its path. */
function fillDisk(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'a');
  try {
    // big blocks first, then smaller ones for the last pages
    for (const size of [64 * 1024, 4096, 1]) {
      try {
        for (;;) writeSync(fd, Buffer.alloc(size, 0x61));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}
const linesOf = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter(Boolean);
const until = async (what: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (await what()) return true;
  return false;
};

function entry(id: string, bytes = 0): AuditEntry {
  return { time: new Date().toISOString(), requestId: id, caller: { name: 't', role: 'admin' }, action: 'cgroup.limits', target: 'cgroup:/x', stage: 'completed', result: 'ok', errorCode: null, request: { pad: 'p'.repeat(bytes) }, before: null, after: null };
}

afterAll(() => {
  for (const dir of mounts.reverse()) {
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('the audit log on a full disk', () => {
  it('never tears a line, refuses new lines, writes owed ones into its reserve, and recovers when space returns', async () => {
    const dir = smallDisk('2m');
    const file = join(dir, 'audit.log');
    const log = new AuditLog(file, { maxBytes: 1 << 20, maxFiles: 1, reserveBytes: 256 * 1024 });
    await log.open();
    for (let i = 0; i < 5; i++) await log.append(entry(`before-${i}`));
    const filler = fillDisk(dir);
    const size = statSync(file).size;

    // bigger than a page: it cannot hide in the last page's slack
    const refused = await log.append(entry('new-while-full', 8192)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AuditUnavailableError);
    expect(statSync(file).size).toBe(size); // nothing of it stayed
    expect(log.unavailable).toMatch(/full/);
    expect(await log.append(entry('tiny')).catch((e: unknown) => e)).toBeInstanceOf(AuditUnavailableError);

    // the completed line of a change under way takes the reserve's space
    await log.append(entry('owed', 8192), 'owed');
    const lines = linesOf(file);
    expect(lines.map((l) => (JSON.parse(l) as AuditEntry).requestId)).toEqual(['before-0', 'before-1', 'before-2', 'before-3', 'before-4', 'owed']);
    expect((await log.read({}, 10)).skippedLines).toBe(0);

    rmSync(filler);
    expect(await until(() => log.unavailable === null)).toBe(true);
    expect(statSync(`${file}.reserve`).size).toBe(256 * 1024);
    await log.append(entry('after'));
    expect((await log.read({}, 1)).items[0]!.requestId).toBe('after');
    await log.close();
  });
});

describe('the service on a full state disk', () => {
  let svc: RunningService | undefined;
  let root: TestCgroup | undefined;
  afterAll(async () => {
    await svc?.stop('SIGKILL');
    root?.remove();
  });

  it('answers 503 AUDIT_UNAVAILABLE without changing anything, stays honest about readiness, and recovers', async () => {
    root = makeTestCgroup('audit-full');
    const dir = smallDisk('4m');
    svc = await startService({ NSGATE_MANAGED_CGROUPS: root.path, DOCKER_HOST: 'unix:///nonexistent/nsgate-full.sock', NSGATE_INTERNAL_CGROUP: `${root.path}-internal` }, dir);
    const token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const pidsMax = () => readFileSync(join(root!.dir('pids'), 'pids.max'), 'utf8').trim();
    const patch = (max: number, id: string) =>
      fetch(`${svc!.url}/v1/cgroups${root!.path}/-/limits`, { method: 'PATCH', headers: { ...auth, 'x-request-id': id }, body: JSON.stringify({ pids: { max } }) });
    expect((await patch(100, 'full-0')).status).toBe(200);

    const filler = fillDisk(dir);
    // the last page of the log may still take a line or two: every answer must match the kernel
    const statuses: number[] = [];
    let last = '100';
    for (let i = 1; i <= 20; i++) {
      const res = await patch(100 + i, `full-${i}`);
      statuses.push(res.status);
      if (res.status === 200) {
        last = String(100 + i);
      } else {
        expect(res.status).toBe(503);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('AUDIT_UNAVAILABLE');
      }
      expect(pidsMax()).toBe(last);
    }
    expect(statuses).toContain(503);
    expect(statuses.slice(statuses.indexOf(503)).every((s) => s === 503)).toBe(true);
    const ready = await fetch(`${svc.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { audit: { status: string } } }).checks.audit.status).toBe('failed');
    // refusals are still answered as refusals, never 500
    const anonymous = await fetch(`${svc.url}/v1/cgroups${root.path}/-/limits`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"pids":{"max":7}}' });
    expect(anonymous.status).toBe(401);
    expect(pidsMax()).toBe(last);

    // every acknowledged change has its completed line; no line is torn
    const lines = linesOf(join(dir, 'audit.log')).map((l) => JSON.parse(l) as AuditEntry);
    for (const [i, s] of statuses.entries()) {
      const completed = lines.some((e) => e.requestId === `full-${i + 1}` && e.stage === 'completed' && e.result === 'ok');
      expect(completed).toBe(s === 200);
    }

    rmSync(filler);
    expect(await until(async () => (await patch(150, 'full-back')).status === 200)).toBe(true);
    expect(pidsMax()).toBe('150');
    expect((await fetch(`${svc.url}/readyz`)).status).toBe(200);
  });
});

describe('a change whose completed line cannot be written', () => {
  let t: TestApp | undefined;
  let root: TestCgroup | undefined;
  afterEach(() => vi.restoreAllMocks());
  afterAll(async () => {
    await t?.close();
    root?.remove();
  });

  it('is put back and answered 503, leaving its received line as the trace', async () => {
    root = makeTestCgroup('audit-revert');
    const dir = smallDisk('4m');
    // no reserve: the completed line has nowhere to go once the disk is full
    t = await startTestApp({ NSGATE_MANAGED_CGROUPS: root.path, NSGATE_DATA_DIR: dir, NSGATE_AUDIT_RESERVE_BYTES: '0' });
    const memoryMax = () => readFileSync(join(root!.dir('memory'), 'memory.limit_in_bytes'), 'utf8').trim();
    const pidsMax = () => readFileSync(join(root!.dir('pids'), 'pids.max'), 'utf8').trim();
    const cpu = () => ['cpu.cfs_quota_us', 'cpu.shares'].map((f) => readFileSync(join(root!.dir('cpu'), f), 'utf8').trim());
    const before = { memory: memoryMax(), pids: pidsMax(), cpu: cpu() };
    // The disk fills between the kernel write and the completed line: the spy only picks the
    // moment; the change, the disk and the refusal are real.
    const real = CgroupSystem.prototype.setLimits;
    let filler = '';
    vi.spyOn(CgroupSystem.prototype, 'setLimits').mockImplementation(async function (this: CgroupSystem, ...args) {
      const result = await real.apply(this, args);
      if (!filler) {
        expect([memoryMax(), pidsMax(), ...cpu()]).toEqual(['16777216', '33', '50000', '256']); // the change really was made
        filler = fillDisk(dir);
      }
      return result;
    });
    // leading blanks are a valid size; they make each line longer than the slack of a page
    const body = { memory: { max: `${' '.repeat(5000)}16M` }, pids: { max: 33 }, cpu: { quotaUs: 50_000, periodUs: 100_000, shares: 256 } };
    const res = await t.http().patch(`/v1/cgroups${root.path}/-/limits`).set('authorization', `Bearer ${t.tokens.operator}`).set('x-request-id', 'revert-1').send(body);
    expect(res.body.error).toMatchObject({ code: 'AUDIT_UNAVAILABLE', details: { reverted: true } });
    expect(res.status).toBe(503);
    expect([memoryMax(), pidsMax(), cpu()]).toEqual([before.memory, before.pids, before.cpu]);

    rmSync(filler);
    const mine = linesOf(join(dir, 'audit.log')).map((l) => JSON.parse(l) as AuditEntry).filter((e) => e.requestId === 'revert-1');
    expect(mine.map((e) => `${e.stage}/${e.result}`)).toEqual(['received/allowed']);
    // once the disk takes writes again, so does nsgate
    expect(await until(async () => (await t!.http().patch(`/v1/cgroups${root!.path}/-/limits`).set('authorization', `Bearer ${t!.tokens.operator}`).send({ pids: { max: 34 } })).status === 200)).toBe(true);
    expect(pidsMax()).toBe('34');
  });
});
