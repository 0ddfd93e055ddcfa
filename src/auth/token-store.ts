import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Caller, isRole, type Role } from './roles.js';

export interface TokenEntry {
  name: string;
  role: Role;
  tokenSha256: string;
}

interface HashedEntry {
  caller: Caller;
  digest: Buffer;
}

export class TokensFileError extends Error {
  constructor(file: string, message: string) {
    super(`tokens file ${file}: ${message}`);
    this.name = 'TokensFileError';
  }
}

export function sha256Hex(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new random token: 32 bytes, base64url, prefixed so it is recognisable in a leaked file. */
export function newToken(): string {
  return `nsg_${randomBytes(32).toString('base64url')}`;
}

export function parseTokensFile(file: string, text: string): TokenEntry[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new TokensFileError(file, `not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(data)) throw new TokensFileError(file, 'must be a JSON array of {name, role, tokenSha256}');
  const names = new Set<string>();
  return data.map((entry: unknown, index) => {
    const e = entry as Partial<TokenEntry>;
    if (typeof e !== 'object' || e === null) throw new TokensFileError(file, `entry ${index} is not an object`);
    if (typeof e.name !== 'string' || !/^[\w.@-]{1,64}$/.test(e.name)) {
      throw new TokensFileError(file, `entry ${index}: name must be 1-64 letters, digits, . _ @ -`);
    }
    if (names.has(e.name)) throw new TokensFileError(file, `entry ${index}: name "${e.name}" appears twice`);
    names.add(e.name);
    if (!isRole(e.role)) throw new TokensFileError(file, `entry ${index} (${e.name}): role must be viewer, operator or admin`);
    if (typeof e.tokenSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.tokenSha256)) {
      throw new TokensFileError(file, `entry ${index} (${e.name}): tokenSha256 must be 64 lowercase hex digits`);
    }
    return { name: e.name, role: e.role, tokenSha256: e.tokenSha256 };
  });
}

/**
 * The known tokens, by the sha256 of each. The token itself is never stored; a presented
 * token is hashed and compared with every entry in constant time, so neither the match
 * nor its position leaks through timing.
 */
export class TokenStore {
  private entries: HashedEntry[] = [];

  constructor(entries: TokenEntry[]) {
    this.entries = entries.map((e) => ({ caller: { name: e.name, role: e.role }, digest: Buffer.from(e.tokenSha256, 'hex') }));
  }

  static async load(file: string): Promise<TokenStore> {
    return new TokenStore(parseTokensFile(file, await readFile(file, 'utf8')));
  }

  get size(): number {
    return this.entries.length;
  }

  authenticate(token: string): Caller | undefined {
    const digest = createHash('sha256').update(token, 'utf8').digest();
    let found: Caller | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, digest) && found === undefined) found = entry.caller;
    }
    return found;
  }
}

/**
 * First start: with no tokens file, create one holding a single admin token and write the
 * token to `adminTokenFile` (mode 0600). Returns the path written, or undefined when the
 * tokens file already existed.
 */
export async function bootstrapTokens(tokensFile: string, adminTokenFile: string): Promise<string | undefined> {
  try {
    await readFile(tokensFile);
    return undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dirname(tokensFile), { recursive: true, mode: 0o700 });
  await mkdir(dirname(adminTokenFile), { recursive: true, mode: 0o700 });
  const token = newToken();
  // By rename, so whoever waits for the file to appear (a script, `cat` in a loop) never reads
  // it empty or half written.
  const tmp = `${adminTokenFile}.${process.pid}.tmp`;
  await writeSecretFile(tmp, `${token}\n`);
  await rename(tmp, adminTokenFile);
  const entries: TokenEntry[] = [{ name: 'admin', role: 'admin', tokenSha256: sha256Hex(token) }];
  await writeSecretFile(tokensFile, `${JSON.stringify(entries, null, 2)}\n`, { exclusive: true });
  return adminTokenFile;
}

/** Adds a token to the tokens file (atomically, by rename) and returns the new token. */
export async function addToken(tokensFile: string, name: string, role: Role): Promise<string> {
  let entries: TokenEntry[] = [];
  try {
    entries = parseTokensFile(tokensFile, await readFile(tokensFile, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (entries.some((e) => e.name === name)) throw new TokensFileError(tokensFile, `a token named "${name}" exists already`);
  const token = newToken();
  const next = [...entries, { name, role, tokenSha256: sha256Hex(token) }];
  parseTokensFile(tokensFile, JSON.stringify(next));
  await mkdir(dirname(tokensFile), { recursive: true, mode: 0o700 });
  const tmp = `${tokensFile}.${process.pid}.tmp`;
  await writeSecretFile(tmp, `${JSON.stringify(next, null, 2)}\n`);
  await rename(tmp, tokensFile);
  return token;
}

async function writeSecretFile(path: string, content: string, opts: { exclusive?: boolean } = {}): Promise<void> {
  const handle = await open(path, opts.exclusive ? 'wx' : 'w', 0o600);
  try {
    await handle.chmod(0o600);
    await writeFile(handle, content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
