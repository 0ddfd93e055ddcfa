/**
 * One output stream, kept up to a cap. Chunks past the cap are counted and dropped, never
 * held, so memory stays at the cap however much a command writes; the first byte past it
 * flips `truncated` and calls onOverflow once (the caller kills the command).
 */
export class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private seen = 0;
  private overflowed = false;

  constructor(
    readonly cap: number,
    private readonly onOverflow?: () => void,
  ) {
    if (!Number.isSafeInteger(cap) || cap < 0) throw new RangeError(`output cap must be a non-negative integer: ${cap}`);
  }

  /** Bytes kept. */
  get bytes(): number {
    return this.kept;
  }

  /** Bytes the command wrote, kept or not. */
  get totalBytes(): number {
    return this.seen;
  }

  get truncated(): boolean {
    return this.overflowed;
  }

  push(chunk: Buffer): void {
    this.seen += chunk.length;
    const room = this.cap - this.kept;
    if (room > 0) {
      // subarray shares memory with the chunk: copy the part kept so the rest can be freed.
      const part = chunk.length <= room ? chunk : Buffer.from(chunk.subarray(0, room));
      this.chunks.push(part);
      this.kept += part.length;
    }
    if (chunk.length > room && !this.overflowed) {
      this.overflowed = true;
      this.onOverflow?.();
    }
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.kept);
  }

  /** UTF-8; a character cut by the cap becomes U+FFFD. */
  toString(): string {
    return this.toBuffer().toString('utf8');
  }
}
