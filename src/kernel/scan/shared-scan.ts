interface NextScan<T> {
  result: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

/**
 * One scan shared by everyone who asks while it is wanted. The rule (issue 3): a caller never
 * gets a result whose scan started before the caller asked, unless it passes maxAgeMs and a
 * result (or a running scan) is that fresh. So a caller joins the *next* scan: if none is
 * running, that one starts on the next turn of the event loop (requests arriving together share
 * it); if one is running, it starts as soon as the running one ends, and everyone who arrived
 * meanwhile shares that single queued scan.
 */
export class SharedScan<T> {
  private running: { startedAt: number; result: Promise<T> } | null = null;
  private next: NextScan<T> | null = null;
  private latest: { startedAt: number; value: T } | null = null;

  constructor(
    private readonly scan: () => Promise<T>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get(maxAgeMs?: number): Promise<T> {
    const now = this.now();
    if (maxAgeMs !== undefined && maxAgeMs >= 0) {
      if (this.latest && now - this.latest.startedAt <= maxAgeMs) return Promise.resolve(this.latest.value);
      if (this.running && now - this.running.startedAt <= maxAgeMs) return this.running.result;
    }
    if (!this.next) {
      let resolve!: (value: T) => void;
      let reject!: (err: unknown) => void;
      const result = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.next = { result, resolve, reject };
      if (!this.running) setImmediate(() => this.startNext());
    }
    return this.next.result;
  }

  /** The newest finished result, whatever its age. */
  peek(): T | undefined {
    return this.latest?.value;
  }

  private startNext(): void {
    const next = this.next;
    if (!next || this.running) return;
    this.next = null;
    const startedAt = this.now();
    const result = (async () => this.scan())();
    this.running = { startedAt, result };
    result.then(
      (value) => {
        if (!this.latest || this.latest.startedAt <= startedAt) this.latest = { startedAt, value };
        this.finish();
        next.resolve(value);
      },
      (err: unknown) => {
        this.finish();
        next.reject(err);
      },
    );
  }

  private finish(): void {
    this.running = null;
    this.startNext();
  }
}
