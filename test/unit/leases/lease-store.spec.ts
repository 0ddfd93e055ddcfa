import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Lease, LeaseStore } from '../../../src/leases/lease-store.js';

const lease = (id: string): Lease => ({
  id,
  target: 'cgroup:/nsgate/a',
  kind: 'cgroup',
  fields: ['pids.max'],
  ttlSeconds: 60,
  createdAt: '2026-12-02T00:00:00.000Z',
  expiresAt: '2026-12-02T00:01:00.000Z',
  requestId: 'r',
  before: null,
  after: null,
  failures: 0,
  lastError: null,
});

describe('the lease file', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'nsgate-leases-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is replaced whole on every change and read back by a new store (a restart)', async () => {
    const store = new LeaseStore(join(dir, 'leases.json'));
    expect(await store.load()).toEqual({ loaded: 0, setAside: null });
    await store.update((l) => ({ leases: [...l, lease('a'), lease('b')], result: undefined }));
    await store.update((l) => ({ leases: l.filter((x) => x.id !== 'a'), result: undefined }));
    expect(readdirSync(dir)).toEqual(['leases.json']); // no temporary file left behind
    const again = new LeaseStore(join(dir, 'leases.json'));
    expect(await again.load()).toEqual({ loaded: 1, setAside: null });
    expect(again.all().map((l) => l.id)).toEqual(['b']);
  });

  it('a change that throws writes nothing', async () => {
    const store = new LeaseStore(join(dir, 'leases.json'));
    await store.update((l) => ({ leases: [...l, lease('a')], result: undefined }));
    await expect(store.update(() => { throw new Error('no'); })).rejects.toThrow('no');
    expect(JSON.parse(readFileSync(join(dir, 'leases.json'), 'utf8')).leases).toHaveLength(1);
  });

  it('an unreadable file is set aside, not lost, and the store starts empty', async () => {
    writeFileSync(join(dir, 'leases.json'), '{"version":1,"leases":[{');
    const store = new LeaseStore(join(dir, 'leases.json'));
    const { loaded, setAside } = await store.load();
    expect(loaded).toBe(0);
    expect(setAside && existsSync(setAside)).toBe(true);
    expect(readFileSync(setAside!, 'utf8')).toBe('{"version":1,"leases":[{');
  });
});
