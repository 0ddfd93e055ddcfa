import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * A change that undoes itself: at `expiresAt` nsgate puts back `restore` (the `before` values of
 * the fields the change moved), unless a later change touched one of `fields` first.
 */
export interface Lease {
  id: string;
  /** As the audit log names it: `cgroup:/nsgate/a` or `container:<full id>`. */
  target: string;
  kind: 'cgroup' | 'container';
  /** The fields the change set, in its route's vocabulary (`memory.max`, `pids.max`; `memory`, `pidsLimit`). */
  fields: string[];
  ttlSeconds: number;
  createdAt: string;
  expiresAt: string;
  /** The request that made the change. */
  requestId: string;
  /** What the change answered (before/after as the route reads them). */
  before: unknown;
  after: unknown;
  /** Restore attempts that failed so far (the kernel refused, the engine was away). */
  failures: number;
  lastError: string | null;
}

interface StoreFile {
  version: 1;
  leases: Lease[];
}

/**
 * The leases, in one JSON file of the state folder, replaced atomically on every change (a
 * temporary file written and fsynced, renamed over the old one, the folder fsynced): a kill at
 * any moment leaves the old file or the new one, never half of one. One writer at a time.
 */
export class LeaseStore {
  private leases: Lease[] = [];
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  /** Reads the file (absent: no leases). A file that does not parse is kept aside, not lost. */
  async load(): Promise<{ loaded: number; setAside: string | null }> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { loaded: 0, setAside: null };
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as StoreFile;
      if (parsed?.version !== 1 || !Array.isArray(parsed.leases)) throw new Error('not a lease file');
      this.leases = parsed.leases;
      return { loaded: this.leases.length, setAside: null };
    } catch {
      const aside = `${this.file}.unreadable-${Date.now()}`;
      await rename(this.file, aside);
      this.leases = [];
      return { loaded: 0, setAside: aside };
    }
  }

  all(): Lease[] {
    return [...this.leases];
  }

  get size(): number {
    return this.leases.length;
  }

  find(id: string): Lease | undefined {
    return this.leases.find((l) => l.id === id);
  }

  /** Applies `change` to the list and resolves once the result is on disk. */
  update<T>(change: (leases: Lease[]) => { leases: Lease[]; result: T }): Promise<T> {
    const run = this.chain.then(async () => {
      const { leases, result } = change([...this.leases]);
      await this.persist(leases);
      this.leases = leases;
      return result;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async persist(leases: Lease[]): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = join(dirname(this.file), `.leases.json.${process.pid}.tmp`);
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify({ version: 1, leases } satisfies StoreFile));
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(tmp, this.file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    const dir = await open(dirname(this.file), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
