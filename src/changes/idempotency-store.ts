import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import { NsgateError } from '../kernel/errors.js';
import { canonicalJson } from './limits-version.js';

/** Bounds of the store: what one caller can make nsgate keep on disk. */
export interface IdempotencyLimits {
  /** How long a first answer is replayed. */
  ttlMs: number;
  /** Entries kept at most; the oldest go first. */
  maxEntries: number;
  /** An answer larger than this is answered but not kept (a retry then runs again). */
  maxAnswerBytes: number;
  /** All entries together; the oldest go first. */
  maxTotalBytes: number;
}

export const DEFAULT_IDEMPOTENCY_LIMITS: IdempotencyLimits = {
  ttlMs: 24 * 60 * 60 * 1000,
  maxEntries: 10_000,
  maxAnswerBytes: 256 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
};

/** Idempotency-Key: 1..255 printable ASCII characters (as Stripe and the IETF draft allow). */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

interface Stored {
  scope: string;
  key: string;
  fingerprint: string;
  createdAt: number;
  answer: unknown;
}

interface IndexEntry {
  createdAt: number;
  bytes: number;
}

/**
 * First answers of changes sent with an Idempotency-Key, kept in the state folder
 * ($NSGATE_DATA_DIR/idempotency, one file per key, mode 0600, written to a temporary name and
 * renamed) so a restart does not forget them. A key belongs to one caller and one route (its
 * scope); the body it came with is kept as a hash. Bounded by count, bytes and age.
 */
@Injectable()
export class IdempotencyStore implements OnModuleInit {
  readonly limits: IdempotencyLimits = { ...DEFAULT_IDEMPOTENCY_LIMITS };
  private readonly dir: string;
  private readonly index = new Map<string, IndexEntry>();
  private readonly inFlight = new Set<string>();
  private totalBytes = 0;
  private readonly logger = new Logger('idempotency');

  constructor(@Inject(CONFIG) config: Config) {
    this.dir = join(config.dataDir, 'idempotency');
  }

  async onModuleInit(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.dir)) {
      const file = join(this.dir, name);
      if (!/^[0-9a-f]{64}\.json$/.test(name)) {
        // a temporary file of a write cut short by a crash
        if (name.endsWith('.tmp')) await rm(file, { force: true });
        continue;
      }
      const st = await stat(file);
      this.index.set(name.slice(0, 64), { createdAt: st.mtimeMs, bytes: st.size });
      this.totalBytes += st.size;
    }
    await this.evict(Date.now());
  }

  /**
   * Runs `work` once per (scope, key): a later call with the same body gets the first answer
   * (replayed: true) without running; with another body, 422 IDEMPOTENCY_KEY_REUSED; while the
   * first still runs, 409 CONFLICT. Only successful answers are kept: a failed change may be
   * retried with the same key.
   */
  async once<T>(scope: string, key: string, body: unknown, work: () => Promise<T>): Promise<{ answer: T; replayed: boolean }> {
    if (!IDEMPOTENCY_KEY.test(key)) {
      throw new NsgateError('VALIDATION_FAILED', 'Idempotency-Key must be 1 to 255 printable ASCII characters', { length: key.length });
    }
    const id = createHash('sha256').update(`${scope}\n${key}`).digest('hex');
    // the same JSON in another key order is the same body
    const fingerprint = createHash('sha256').update(canonicalJson(body ?? null)).digest('hex');
    const now = Date.now();
    const found = await this.read(id, now);
    if (found) {
      if (found.fingerprint !== fingerprint) {
        throw new NsgateError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with another body; use a new key for a new change', {
          key,
          firstUsedAt: new Date(found.createdAt).toISOString(),
        });
      }
      return { answer: found.answer as T, replayed: true };
    }
    if (this.inFlight.has(id)) throw new NsgateError('CONFLICT', 'a change with this Idempotency-Key is still running; retry when it has answered', { key });
    this.inFlight.add(id);
    try {
      const answer = await work();
      await this.write(id, { scope, key, fingerprint, createdAt: Date.now(), answer });
      return { answer, replayed: false };
    } finally {
      this.inFlight.delete(id);
    }
  }

  /** Entries kept now (tests, diagnostics). */
  get size(): number {
    return this.index.size;
  }

  private async read(id: string, now: number): Promise<Stored | null> {
    const entry = this.index.get(id);
    if (!entry) return null;
    if (now - entry.createdAt > this.limits.ttlMs) {
      await this.drop(id);
      return null;
    }
    try {
      return JSON.parse(await readFile(join(this.dir, `${id}.json`), 'utf8')) as Stored;
    } catch (err) {
      this.logger.warn(`unreadable idempotency entry ${id}: ${(err as Error).message}`);
      await this.drop(id);
      return null;
    }
  }

  private async write(id: string, stored: Stored): Promise<void> {
    const text = JSON.stringify(stored);
    const bytes = Buffer.byteLength(text);
    if (bytes > this.limits.maxAnswerBytes) {
      this.logger.warn(`answer of ${bytes} bytes is over ${this.limits.maxAnswerBytes}: not kept for replay`);
      return;
    }
    const file = join(this.dir, `${id}.json`);
    const tmp = `${file}.${process.pid}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
    this.index.set(id, { createdAt: stored.createdAt, bytes });
    this.totalBytes += bytes;
    await this.evict(Date.now());
  }

  /** Expired entries, then the oldest while over the count or byte bound. */
  private async evict(now: number): Promise<void> {
    const byAge = [...this.index.entries()].sort((a, b) => a[1].createdAt - b[1].createdAt);
    for (const [id, entry] of byAge) {
      const over = this.index.size > this.limits.maxEntries || this.totalBytes > this.limits.maxTotalBytes;
      if (!over && now - entry.createdAt <= this.limits.ttlMs) break;
      await this.drop(id);
    }
  }

  private async drop(id: string): Promise<void> {
    const entry = this.index.get(id);
    if (!entry) return;
    this.index.delete(id);
    this.totalBytes -= entry.bytes;
    await rm(join(this.dir, `${id}.json`), { force: true });
  }
}
