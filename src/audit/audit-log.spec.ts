import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntry } from './audit-entry.js';
import { AuditLog, InvalidCursorError, readMerged } from './audit-log.js';

function entry(i: number, over: Partial<AuditEntry> = {}): AuditEntry {
  return {
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    requestId: `r${i}`,
    caller: { name: i % 2 ? 'alice' : 'bob', role: 'operator' },
    action: 'cgroup.limits',
    target: `cgroup:/nsgate/c${i}`,
    stage: 'completed',
    result: 'ok',
    errorCode: null,
    request: { i },
    before: null,
    after: null,
    ...over,
  };
}

describe('AuditLog', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nsgate-audit-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('appends JSON lines and reads them newest first, page by page', async () => {
    const log = new AuditLog(join(dir, 'audit.log'), { maxBytes: 1 << 20, maxFiles: 3 });
    await log.open();
    await Promise.all(Array.from({ length: 25 }, (_, i) => log.append(entry(i))));
    const lines = (await readFile(join(dir, 'audit.log'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(25);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await log.read({}, 10, cursor);
      seen.push(...page.items.map((e) => e.requestId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const written = lines.map((l) => (JSON.parse(l) as AuditEntry).requestId);
    expect(seen).toEqual(written.reverse());
    await log.close();
  });

  it('filters by caller, target prefix and time', async () => {
    const log = new AuditLog(join(dir, 'audit.log'), { maxBytes: 1 << 20, maxFiles: 3 });
    await log.open();
    for (let i = 0; i < 10; i++) await log.append(entry(i));
    expect((await log.read({ caller: 'alice' }, 100)).items.map((e) => e.requestId)).toEqual(['r9', 'r7', 'r5', 'r3', 'r1']);
    expect((await log.read({ target: 'cgroup:/nsgate/c3' }, 100)).items).toHaveLength(1);
    const since = new Date(Date.UTC(2026, 0, 1, 0, 0, 7));
    expect((await log.read({ since }, 100)).items.map((e) => e.requestId)).toEqual(['r9', 'r8', 'r7']);
    await log.close();
  });

  it('rotates by size, keeps a bounded number of files and reads across them', async () => {
    const file = join(dir, 'audit.log');
    const log = new AuditLog(file, { maxBytes: 1000, maxFiles: 2 });
    await log.open();
    for (let i = 0; i < 40; i++) await log.append(entry(i));
    const names = (await readdir(dir)).sort();
    expect(names).toEqual(['audit.log', 'audit.log.1', 'audit.log.2']);
    for (const name of names) expect((await readFile(join(dir, name))).length).toBeLessThanOrEqual(1000);
    const all = await log.read({}, 1000);
    const ids = all.items.map((e) => Number(e.requestId.slice(1)));
    expect(ids[0]).toBe(39);
    // newest first and contiguous: rotation dropped only the oldest entries
    expect(ids).toEqual(ids.map((_, k) => 39 - k));
    await log.close();
  });

  it('skips a torn last line left by a crash', async () => {
    const file = join(dir, 'audit.log');
    const log = new AuditLog(file, { maxBytes: 1 << 20, maxFiles: 1 });
    await log.open();
    await log.append(entry(1));
    await log.close();
    const { appendFile } = await import('node:fs/promises');
    await appendFile(file, '{"time":"2026-01-0');
    const again = new AuditLog(file, { maxBytes: 1 << 20, maxFiles: 1 });
    await again.open();
    expect(await again.read({}, 10)).toMatchObject({ items: [{ requestId: 'r1' }], skippedLines: 1 });
    await again.append(entry(2));
    // the torn fragment stays a line of its own: the next entry is whole, the fragment reported
    expect(await again.read({}, 10)).toMatchObject({ items: [{ requestId: 'r2' }, { requestId: 'r1' }], skippedLines: 1 });
    await again.close();
  });

  it('merges several logs newest first, page by page, each resuming where it stopped', async () => {
    const a = new AuditLog(join(dir, 'a.log'), { maxBytes: 1 << 20, maxFiles: 1 });
    const b = new AuditLog(join(dir, 'b.log'), { maxBytes: 1 << 20, maxFiles: 1 });
    await a.open();
    await b.open();
    for (let i = 0; i < 30; i++) await (i % 3 === 0 ? b : a).append(entry(i));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await readMerged([a, b], {}, 7, cursor);
      seen.push(...page.items.map((e) => e.requestId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 30 }, (_, k) => `r${29 - k}`));
    expect((await readMerged([a, b], { caller: 'bob' }, 100)).items.every((e) => e.caller?.name === 'bob')).toBe(true);
    await expect(readMerged([a, b], {}, 5, 'bm90LWEtY3Vyc29y')).rejects.toThrow(InvalidCursorError);
    await a.close();
    await b.close();
  });

  it('keeps a reserve file of real blocks and answers available', async () => {
    const log = new AuditLog(join(dir, 'audit.log'), { maxBytes: 1 << 20, maxFiles: 1, reserveBytes: 200_000 });
    await log.open();
    expect((await stat(join(dir, 'audit.log.reserve'))).blocks * 512).toBeGreaterThanOrEqual(200_000);
    expect(log.unavailable).toBeNull();
    await log.close();
  });
});
