import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IdempotencyStore } from '../../../src/changes/idempotency-store.js';
import type { Config } from '../../../src/config/config.js';
import { NsgateError } from '../../../src/kernel/errors.js';

const dirs: string[] = [];
async function storeIn(dataDir?: string): Promise<{ store: IdempotencyStore; dataDir: string }> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'nsgate-idem-'));
  if (!dataDir) dirs.push(dir);
  const store = new IdempotencyStore({ dataDir: dir } as Config);
  await store.onModuleInit();
  return { store, dataDir: dir };
}
const codeOf = async (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e instanceof NsgateError ? e.code : String(e)));

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('IdempotencyStore', () => {
  it('runs once per key and scope, replays the first answer, and refuses the key with another body', async () => {
    const { store, dataDir } = await storeIn();
    let runs = 0;
    const work = async () => ({ n: ++runs });
    expect(await store.once('ops\nPATCH /a', 'k1', { x: 1 }, work)).toEqual({ answer: { n: 1 }, replayed: false });
    expect(await store.once('ops\nPATCH /a', 'k1', { x: 1 }, work)).toEqual({ answer: { n: 1 }, replayed: true });
    // the same body with its keys in another order is the same body
    expect((await store.once('ops\nPATCH /b', 'k2', { a: 1, b: { c: 2, d: 3 } }, work)).replayed).toBe(false);
    expect((await store.once('ops\nPATCH /b', 'k2', { b: { d: 3, c: 2 }, a: 1 }, work)).replayed).toBe(true);
    expect(await codeOf(store.once('ops\nPATCH /a', 'k1', { x: 2 }, work))).toBe('IDEMPOTENCY_KEY_REUSED');
    // another caller or route: its own key space
    expect((await store.once('admin\nPATCH /a', 'k1', { x: 2 }, work)).replayed).toBe(false);
    expect(runs).toBe(3);
    const files = readdirSync(join(dataDir, 'idempotency'));
    expect(files).toHaveLength(3);
    expect(statSync(join(dataDir, 'idempotency', files[0]!)).mode & 0o777).toBe(0o600);
    // a new store on the same folder (a restart) remembers
    const again = await storeIn(dataDir);
    expect(await again.store.once('ops\nPATCH /a', 'k1', { x: 1 }, work)).toEqual({ answer: { n: 1 }, replayed: true });
    expect(runs).toBe(3);
  });

  it('keeps failures out (a retry runs again), refuses a key in use and malformed keys', async () => {
    const { store } = await storeIn();
    expect(await codeOf(store.once('s', 'k', {}, async () => Promise.reject(new NsgateError('CGROUP_BUSY', 'busy'))))).toBe('CGROUP_BUSY');
    let release!: () => void;
    const slow = store.once('s', 'k', {}, () => new Promise<string>((r) => (release = () => r('done'))));
    expect(await codeOf(store.once('s', 'k', {}, async () => 'second'))).toBe('CONFLICT');
    release();
    expect((await slow).answer).toBe('done');
    expect(await codeOf(store.once('s', 'bad key', {}, async () => 1))).toBe('VALIDATION_FAILED');
    expect(await codeOf(store.once('s', 'x'.repeat(256), {}, async () => 1))).toBe('VALIDATION_FAILED');
  });

  it('is bounded: the oldest go beyond the count, expired ones are forgotten, big answers are not kept', async () => {
    const { store, dataDir } = await storeIn();
    store.limits.maxEntries = 3;
    for (let i = 0; i < 5; i++) await store.once('s', `k${i}`, {}, async () => i);
    expect(store.size).toBe(3);
    expect(readdirSync(join(dataDir, 'idempotency'))).toHaveLength(3);
    expect((await store.once('s', 'k0', {}, async () => 'rerun')).replayed).toBe(false);
    store.limits.ttlMs = -1;
    expect((await store.once('s', 'k4', {}, async () => 'after expiry')).answer).toBe('after expiry');
    store.limits.ttlMs = 60_000;
    store.limits.maxAnswerBytes = 100;
    await store.once('s', 'big', {}, async () => 'x'.repeat(200));
    expect((await store.once('s', 'big', {}, async () => 'again')).replayed).toBe(false);
  });
});
