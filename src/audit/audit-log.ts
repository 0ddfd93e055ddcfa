import { type FileHandle, mkdir, open, rename, rm, stat, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditEntry, AuditFilter } from './audit-entry.js';

export interface AuditLogOptions {
  /** Rotate when the current file would grow past this many bytes. */
  maxBytes: number;
  /** How many rotated files (audit.log.1 … .N) to keep; older ones are deleted. */
  maxFiles: number;
  /**
   * Bytes kept in `<file>.reserve`, written with real blocks at open, released only to write the
   * lines owed by changes already under way when the disk is full. 0: no reserve.
   */
  reserveBytes?: number;
}

/**
 * new: a line that starts something (a received line); refused while the log is unavailable.
 * owed: the completed line of a change already under way; may use the reserve.
 */
export type LinePriority = 'new' | 'owed';

interface Pending {
  line: string;
  priority: LinePriority;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface AuditPage {
  items: AuditEntry[];
  nextCursor: string | null;
  /** Lines in the part read that were not whole JSON (a crash mid-write): skipped, counted here. */
  skippedLines: number;
}

interface Position {
  ino: number;
  offset: number;
}

const READ_CHUNK = 64 * 1024;
const RECOVER_EVERY_MS = 1000;

/** The log cannot take a line: the disk is full or failing. Nothing of the line is on disk. */
export class AuditUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`audit log unavailable: ${reason}`);
  }
}

/**
 * An append-only JSON-lines file, as Kubernetes and auditd keep theirs. Lines are only
 * ever appended; rotation renames the full file to `.1` (shifting older ones) and starts
 * a new one. Concurrent appends are group-committed: one write and one fdatasync for all
 * lines waiting, and each caller's promise settles only after its line is on disk.
 *
 * It fails closed: a write that fails is cut back to the last whole line (never a torn line),
 * the log turns unavailable (new lines refused at once, so nothing new starts), and the lines
 * owed by changes under way are written into the space the reserve file gives back. Every
 * second it tries to take the reserve back; once it holds it whole, the log is available again.
 */
export class AuditLog {
  private handle: FileHandle | undefined;
  private size = 0;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;
  private unavailableReason: string | null = null;
  private recoverTimer: NodeJS.Timeout | undefined;
  private readonly reservePath: string;
  private readonly reserveBytes: number;
  private reserveHeld = 0;
  private startOnNewLine = false;

  constructor(
    readonly file: string,
    private readonly options: AuditLogOptions,
  ) {
    this.reservePath = `${file}.reserve`;
    this.reserveBytes = options.reserveBytes ?? 0;
  }

  /** Why new lines are refused now, or null when the log takes them. */
  get unavailable(): string | null {
    return this.unavailableReason;
  }

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
        await this.writeAll(Buffer.from('\n'));
        this.size += 1;
      }
    }
    if (!(await this.takeReserve())) this.degrade(`no room for the ${this.reserveBytes}-byte reserve in ${dirname(this.file)}`);
  }

  append(entry: AuditEntry, priority: LinePriority = 'new'): Promise<void> {
    if (this.closed || !this.handle) return Promise.reject(new AuditUnavailableError('the audit log is not open'));
    if (priority === 'new' && this.unavailableReason) return Promise.reject(new AuditUnavailableError(this.unavailableReason));
    const line = `${JSON.stringify(entry)}\n`;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ line, priority, resolve, reject });
      if (!this.flushing) this.flushing = this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        await this.commit(batch);
        for (const p of batch) p.resolve();
      } catch (err) {
        const reason = describe(err);
        this.degrade(reason);
        // new lines give way; owed lines get the reserve's space and one more try
        const owed = batch.filter((p) => p.priority === 'owed');
        for (const p of batch) if (p.priority === 'new') p.reject(new AuditUnavailableError(reason));
        if (owed.length === 0) continue;
        try {
          if (!(await this.releaseReserve())) throw err;
          await this.commit(owed);
          for (const p of owed) p.resolve();
        } catch (again) {
          for (const p of owed) p.reject(new AuditUnavailableError(describe(again)));
        }
      }
    }
    this.flushing = undefined;
  }

  /** Writes the lines whole and syncs them; on failure cuts the file back to its last whole line. */
  private async commit(batch: Pending[]): Promise<void> {
    const data = Buffer.from((this.startOnNewLine ? '\n' : '') + batch.map((p) => p.line).join(''), 'utf8');
    if (this.size > 0 && this.size + data.length > this.options.maxBytes) await this.rotate();
    try {
      await this.writeAll(data);
      await this.handle!.datasync();
      this.size += data.length;
      this.startOnNewLine = false;
    } catch (err) {
      try {
        await this.handle!.truncate(this.size);
        await this.handle!.datasync();
      } catch {
        // could not cut it back: the next line starts on a line of its own, the fragment is skipped by readers
        this.size = (await this.handle!.stat().catch(() => ({ size: this.size }))).size;
        this.startOnNewLine = true;
      }
      throw err;
    }
  }

  /** write(2) may write part of a buffer (a disk filling up): loops until all of it is written. */
  private async writeAll(data: Buffer): Promise<void> {
    for (let done = 0; done < data.length; ) {
      const { bytesWritten } = await this.handle!.write(data, done, data.length - done);
      if (bytesWritten === 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
      done += bytesWritten;
    }
  }

  private degrade(reason: string): void {
    this.unavailableReason = reason;
    if (this.recoverTimer || this.closed) return;
    this.recoverTimer = setInterval(() => void this.recover(), RECOVER_EVERY_MS);
    this.recoverTimer.unref();
  }

  /** Available again once the reserve is held whole and a sync of the log works. */
  private async recover(): Promise<void> {
    if (this.closed || !this.handle) return;
    if (!(await this.takeReserve())) return;
    try {
      await this.handle.datasync();
    } catch {
      return;
    }
    this.unavailableReason = null;
    clearInterval(this.recoverTimer);
    this.recoverTimer = undefined;
  }

  /** Fills the reserve file up to reserveBytes with written (not sparse) blocks; true when it holds them all. */
  private async takeReserve(): Promise<boolean> {
    if (this.reserveHeld >= this.reserveBytes) return true;
    let reserve: FileHandle | undefined;
    try {
      reserve = await open(this.reservePath, 'a', 0o600);
      this.reserveHeld = (await reserve.stat()).size;
      const zeros = Buffer.alloc(Math.min(READ_CHUNK, this.reserveBytes));
      while (this.reserveHeld < this.reserveBytes) {
        const { bytesWritten } = await reserve.write(zeros, 0, Math.min(zeros.length, this.reserveBytes - this.reserveHeld));
        this.reserveHeld += bytesWritten;
      }
      await reserve.datasync();
      return true;
    } catch {
      return false;
    } finally {
      await reserve?.close().catch(() => undefined);
    }
  }

  /** Gives the reserve's blocks back to the filesystem; false when there was none to give. */
  private async releaseReserve(): Promise<boolean> {
    if (this.reserveHeld === 0) return false;
    await truncate(this.reservePath, 0);
    this.reserveHeld = 0;
    return true;
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
    clearInterval(this.recoverTimer);
    this.recoverTimer = undefined;
    await this.flushing;
    await this.handle?.close();
    this.handle = undefined;
  }

  /** Entries newest first, filtered, one page at a time. */
  async read(filter: AuditFilter, limit: number, cursor?: string): Promise<AuditPage> {
    return readMerged([this], filter, limit, cursor);
  }

  /** The files, newest first: the current one, then .1, .2 … */
  async files(): Promise<{ path: string; ino: number; size: number }[]> {
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

interface Positioned {
  entry: AuditEntry;
  /** Where reading resumes to get this entry again (the end of its line). */
  at: Position;
}

/** One log's entries newest first from a position, counting the lines that do not parse. */
async function* entriesOf(log: AuditLog, filter: AuditFilter, start: Position | undefined, skipped: { count: number }): AsyncGenerator<Positioned> {
  const files = await log.files();
  let index = 0;
  let offset: number | undefined;
  if (start) {
    index = files.findIndex((f) => f.ino === start.ino);
    if (index < 0) return;
    offset = start.offset;
  }
  for (; index < files.length; index++, offset = undefined) {
    const file = files[index]!;
    for await (const { line, end } of readLinesBackward(file.path, offset ?? file.size)) {
      const entry = parseLine(line);
      if (!entry) {
        skipped.count++;
        continue;
      }
      if (matches(entry, filter)) yield { entry, at: { ino: file.ino, offset: end } };
    }
  }
}

/**
 * The entries of several logs merged newest first (by time; ties keep the logs' order), one page
 * at a time. The cursor holds where each log resumes; a log that is done is left out of it.
 */
export async function readMerged(logs: readonly AuditLog[], filter: AuditFilter, limit: number, cursor?: string): Promise<AuditPage> {
  const starts = cursor ? decodeCursor(cursor, logs.length) : logs.map(() => undefined);
  const skipped = { count: 0 };
  const streams = logs.map((log, i) => (starts[i] === null ? undefined : entriesOf(log, filter, starts[i] ?? undefined, skipped)));
  const heads: (Positioned | undefined)[] = await Promise.all(streams.map(async (s) => (await s?.next())?.value ?? undefined));
  const items: AuditEntry[] = [];
  try {
    for (;;) {
      let pick = -1;
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i];
        if (h && (pick < 0 || h.entry.time > heads[pick]!.entry.time)) pick = i;
      }
      if (pick < 0) return { items, nextCursor: null, skippedLines: skipped.count };
      if (items.length === limit) return { items, nextCursor: encodeCursor(heads.map((h) => h?.at ?? null)), skippedLines: skipped.count };
      items.push(heads[pick]!.entry);
      heads[pick] = (await streams[pick]!.next()).value ?? undefined;
    }
  } finally {
    await Promise.all(streams.map((s) => s?.return(undefined)));
  }
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e instanceof AuditUnavailableError) return e.reason;
  if (e?.code === 'ENOSPC' || e?.code === 'EDQUOT') return `the disk holding the audit log is full (${e.code})`;
  return e?.code ? `writing the audit log failed (${e.code})` : `writing the audit log failed (${String(e?.message ?? e)})`;
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

/** A whole entry, or undefined for a line a crash tore (skipped and counted, never fatal). */
function parseLine(line: string): AuditEntry | undefined {
  try {
    const entry = JSON.parse(line) as AuditEntry;
    return entry && typeof entry === 'object' && typeof entry.time === 'string' ? entry : undefined;
  } catch {
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

function encodeCursor(positions: (Position | null)[]): string {
  return Buffer.from(positions.map((p) => (p ? `${p.ino}:${p.offset}` : '-')).join(',')).toString('base64url');
}

/** One position per log; null where that log is done. */
function decodeCursor(text: string, logs: number): (Position | null)[] {
  const parts = Buffer.from(text, 'base64url').toString('utf8').split(',');
  if (parts.length !== logs) throw new InvalidCursorError();
  return parts.map((part) => {
    if (part === '-') return null;
    const match = /^(\d+):(\d+)$/.exec(part);
    if (!match) throw new InvalidCursorError();
    return { ino: Number(match[1]), offset: Number(match[2]) };
  });
}

export class InvalidCursorError extends Error {
  constructor() {
    super('cursor is not one this server gave out');
  }
}
