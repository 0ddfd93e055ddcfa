/**
 * Serializes async work per key (a cgroup path): a second change to one cgroup waits for the
 * first to finish, so its "before" is the first one's "after" and their writes never interleave.
 * Different keys run concurrently. In-process only: nsgate is the one writer it coordinates.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      // The last one out removes the key, so the map does not grow with every path ever used.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with work running or queued (for tests and metrics). */
  get size(): number {
    return this.tails.size;
  }
}

/** One per process: every CgroupSystem shares it unless given its own. */
export const cgroupMutex = new KeyedMutex();
