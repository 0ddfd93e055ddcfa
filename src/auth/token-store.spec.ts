import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

// Every path opened for writing, in order: the admin token file must only ever appear by rename.
const opened: string[] = [];
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...real,
    open: (path: Parameters<typeof real.open>[0], ...rest: unknown[]) => {
      opened.push(String(path));
      return (real.open as (...args: unknown[]) => ReturnType<typeof real.open>)(path, ...rest);
    },
  };
});

const { bootstrapTokens, TokenStore } = await import('./token-store.js');

describe('bootstrapTokens', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    opened.length = 0;
  });

  it('writes admin.token whole, by rename (a reader polling for it never sees it empty), and its hash to the tokens file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'nsgate-tokens-'));
    const adminFile = join(dir, 'admin.token');
    const tokensFile = join(dir, 'tokens.json');
    expect(await bootstrapTokens(tokensFile, adminFile)).toBe(adminFile);
    // found by the Docker VM guest: it read the file the moment it appeared, and got ''
    expect(opened).not.toContain(adminFile);
    const token = (await readFile(adminFile, 'utf8')).trim();
    expect(token).toMatch(/^\S{20,}$/);
    const store = await TokenStore.load(tokensFile);
    expect(store.authenticate(token)).toMatchObject({ name: 'admin', role: 'admin' });
    // a second start leaves both alone
    expect(await bootstrapTokens(tokensFile, adminFile)).toBeUndefined();
    expect((await readFile(adminFile, 'utf8')).trim()).toBe(token);
  });
});
