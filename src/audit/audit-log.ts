import { type FileHandle, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditEntry, AuditFilter } from './audit-entry.js';

export interface AuditLogOptions {
  /** Rotate when the current file would grow past this many bytes. */
  maxBytes: number;
  /** How many rotated files (audit.log.1 … .N) to keep; older ones are deleted. */
  maxFiles: number;
}

interface Pending {
  line: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface AuditPage {
  items: AuditEntry[];
  nextCursor: string | null;
}

interface Cursor {
  ino: number;
  offset: number;
}

const READ_CHUNK = 64 * 1024;

/**
 * An append-only JSON-lines file, as Kubernetes and auditd keep theirs. Lines are only
 * ever appended; rotation renames the full file to `.1` (shifting older ones) and starts
 * a new one. Concurrent appends are group-committed: one write and one fdatasync for all
 * lines waiting, and each caller's promise settles only after its line is on disk.
 */
export class AuditLog {
  private handle: FileHandle | undefined;
  private size = 0;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(
    readonly file: string,
    private readonly options: AuditLogOptions,
  ) {}

  async open(): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    this.handle = await open(this.file, 'a', 0o600);
    this.size = (await this.handle.stat()).size;
    if (this.size > 0) {
      // a crash may have torn the last line: start the next one on a line of its own
      const last = Buffer.alloc(1);
      const reader = await open(this.file, 'r');
      await reader.read(last, 0, 1, this.size - 1).finally(() => reader.close());
      if (last[0] !== 0x0a) {
        await this.handle.write('\n');
        this.size += 1;
      }
    }
  }

  append(entry: AuditEntry): Promise<void> {
    if (this.closed || !this.handle) return Promise.reject(new Error('audit log is not open'));
    const line = `${JSON.stringify(entry)}\n`;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ line, resolve, reject });
      if (!this.flushing) this.flushing = this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        const data = Buffer.from(batch.map((p) => p.line).join(''), 'utf8');
        if (this.size > 0 && this.size + data.length > this.options.maxBytes) await this.rotate();
        await this.handle!.write(data);
        await this.handle!.datasync();
        this.size += data.length;
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err as Error);
      }
    }
    this.flushing = undefined;
  }

  private async rotate(): Promise<void> {
    await this.handle!.close();
    await rm(`${this.file}.${this.options.maxFiles}`, { force: true });
    for (let i = this.options.maxFiles - 1; i >= 1; i--) {
      await rename(`${this.file}.${i}`, `${this.file}.${i + 1}`).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
    await rename(this.file, `${this.file}.1`);
    this.handle = await open(this.file, 'a', 0o600);
    this.size = 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
    await this.handle?.close();
    this.handle = undefined;
  }

  /** Entries newest first, filtered, one page at a time. */
  async read(filter: AuditFilter, limit: number, cursor?: string): Promise<AuditPage> {
    const start = cursor ? decodeCursor(cursor) : undefined;
    const files = await this.files();
    let fileIndex = 0;
    let offset: number | undefined;
    if (start) {
      fileIndex = files.findIndex((f) => f.ino === start.ino);
      if (fileIndex < 0) return { items: [], nextCursor: null };
      offset = start.offset;
    }
    const items: AuditEntry[] = [];
    for (; fileIndex < files.length; fileIndex++, offset = undefined) {
      const file = files[fileIndex]!;
      for await (const { line, end: lineEnd } of readLinesBackward(file.path, offset ?? file.size)) {
        const entry = parseLine(line);
        if (!entry || !matches(entry, filter)) continue;
        if (items.length === limit) return { items, nextCursor: encodeCursor({ ino: file.ino, offset: lineEnd }) };
        items.push(entry);
      }
    }
    return { items, nextCursor: null };
  }

  private async files(): Promise<{ path: string; ino: number; size: number }[]> {
    const out: { path: string; ino: number; size: number }[] = [];
    for (let i = 0; i <= this.options.maxFiles; i++) {
      const path = i === 0 ? this.file : `${this.file}.${i}`;
      try {
        const s = await stat(path);
        out.push({ path, ino: s.ino, size: s.size });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return out;
  }
}

/** Lines of a file from byte `end` backwards, each with the byte offset where it ends. */
async function* readLinesBackward(path: string, end: number): AsyncGenerator<{ line: string; end: number }> {
  const handle = await open(path, 'r');
  try {
    let position = end;
    let tail = Buffer.alloc(0);
    while (position > 0) {
      const size = Math.min(READ_CHUNK, position);
      position -= size;
      const chunk = Buffer.alloc(size);
      await handle.read(chunk, 0, size, position);
      let buf = Buffer.concat([chunk, tail]);
      let newline = buf.lastIndexOf(0x0a, buf.length - 1);
      // a trailing newline ends the last line; it does not start an empty one
      let lineEnd = buf.length;
      if (newline === buf.length - 1) {
        lineEnd = newline;
        newline = buf.lastIndexOf(0x0a, newline - 1);
      }
      while (newline >= 0) {
        const line = buf.subarray(newline + 1, lineEnd);
        if (line.length > 0) yield { line: line.toString('utf8'), end: position + lineEnd };
        lineEnd = newline;
        newline = buf.lastIndexOf(0x0a, newline - 1);
      }
      tail = buf.subarray(0, lineEnd);
      buf = Buffer.alloc(0);
    }
    if (tail.length > 0) yield { line: tail.toString('utf8'), end: tail.length };
  } finally {
    await handle.close();
  }
}

function parseLine(line: string): AuditEntry | undefined {
  try {
    return JSON.parse(line) as AuditEntry;
  } catch {
    // a torn last line after a crash is skipped, not fatal
    return undefined;
  }
}

function matches(entry: AuditEntry, filter: AuditFilter): boolean {
  if (filter.caller !== undefined && entry.caller?.name !== filter.caller) return false;
  if (filter.target !== undefined && !entry.target.startsWith(filter.target)) return false;
  if (filter.action !== undefined && entry.action !== filter.action) return false;
  const time = Date.parse(entry.time);
  if (filter.since && time < filter.since.getTime()) return false;
  if (filter.until && time > filter.until.getTime()) return false;
  return true;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.ino}:${cursor.offset}`).toString('base64url');
}

function decodeCursor(text: string): Cursor {
  const match = /^(\d+):(\d+)$/.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (!match) throw new InvalidCursorError();
  return { ino: Number(match[1]), offset: Number(match[2]) };
}

export class InvalidCursorError extends Error {
  constructor() {
    super('cursor is not one this server gave out');
  }
}
