import { isUtf8 } from 'node:buffer';

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const CLOSING_BRACE = 0x7d;
const EMPTY = Buffer.alloc(0);
const RETAINED_BUFFER_BYTES = 64 * 1024;

export interface FramerOptions {
  /** Longest line accepted, in bytes, without its newline (PROTOCOL §2). */
  maxLineBytes: number;
}

export interface PushResult {
  /** Complete lines, decoded as UTF-8, without terminator; blank lines dropped. */
  lines: string[];
  /** Lines that were not valid UTF-8 (counted, never decoded). */
  invalidUtf8: number;
  /** True once a line exceeded maxLineBytes; the framer is then dead. */
  overflow: boolean;
}

/**
 * Splits a byte stream into newline-delimited lines (PROTOCOL §2).
 *
 * Pure and I/O-free: the transport feeds it chunks. It never holds more than
 * `maxLineBytes` of an unfinished line, so a hostile peer streaming a huge
 * line costs bounded memory: we fail as soon as the limit is crossed rather
 * than when the newline finally arrives.
 */
export class LineFramer {
  readonly #maxLineBytes: number;
  /**
   * The unfinished line, in ONE growable buffer: a peer dribbling one byte per
   * TCP segment must not cost one Buffer object per byte.
   */
  #partial: Buffer = EMPTY;
  #partialBytes = 0;
  #overflowed = false;

  constructor(opts: FramerOptions) {
    this.#maxLineBytes = opts.maxLineBytes;
  }

  get pendingBytes(): number {
    return this.#partialBytes;
  }

  get hasOverflowed(): boolean {
    return this.#overflowed;
  }

  push(chunk: Buffer): PushResult {
    const result: PushResult = { lines: [], invalidUtf8: 0, overflow: false };
    if (this.#overflowed) return { ...result, overflow: true };
    let start = 0;
    let nl = chunk.indexOf(NEWLINE, start);
    while (nl !== -1) {
      if (this.#lineLength(chunk, start, nl) > this.#maxLineBytes) return this.#overflow(result);
      this.#emit(this.#takeLine(chunk.subarray(start, nl)), result);
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) {
      if (this.#lineLength(chunk, start, chunk.length) > this.#maxLineBytes) return this.#overflow(result);
      this.#append(chunk.subarray(start));
    }
    return result;
  }

  /**
   * One-shot rule (PROTOCOL §2.3): legacy peers send one JSON object without a
   * newline and wait. If the unfinished line is a complete JSON object, hand
   * it over as a frame. A proper prefix of one JSON object can never parse as
   * an object itself, so this cannot cut a split message in two.
   */
  takeCompleteObject(maxBytes: number): { line: string; value: Record<string, unknown> } | null {
    if (this.#partialBytes === 0 || this.#partialBytes > maxBytes) return null;
    const buf = this.#partial.subarray(0, this.#partialBytes);
    if (lastNonWhitespace(buf) !== CLOSING_BRACE || !isUtf8(buf)) return null;
    const line = buf.toString('utf8');
    const value = tryParseObject(line);
    if (value === null) return null;
    this.#reset();
    return { line: line.trim(), value };
  }

  /**
   * Bytes of the line that ends at `end`, not counting a final \r: it belongs
   * to a \r\n terminator (or, unfinished, may turn out to).
   */
  #lineLength(chunk: Buffer, start: number, end: number): number {
    const last = end > start ? chunk[end - 1] : this.#partialBytes > 0 ? this.#partial[this.#partialBytes - 1] : undefined;
    return this.#partialBytes + (end - start) - (last === CARRIAGE_RETURN ? 1 : 0);
  }

  #takeLine(tail: Buffer): Buffer {
    if (this.#partialBytes === 0) return tail;
    const whole = Buffer.concat([this.#partial.subarray(0, this.#partialBytes), tail]);
    this.#reset();
    return whole;
  }

  /** Copy (the caller may reuse its chunk), growing by doubling up to the limit. */
  #append(bytes: Buffer): void {
    const needed = this.#partialBytes + bytes.length;
    if (needed > this.#partial.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.#maxLineBytes + 1, Math.max(needed, this.#partial.length * 2, 256)));
      this.#partial.copy(grown, 0, 0, this.#partialBytes);
      this.#partial = grown;
    }
    bytes.copy(this.#partial, this.#partialBytes);
    this.#partialBytes = needed;
  }

  #reset(): void {
    // Drop a big buffer after a big line, so one large frame does not pin memory for the connection's life.
    if (this.#partial.length > RETAINED_BUFFER_BYTES) this.#partial = EMPTY;
    this.#partialBytes = 0;
  }

  #emit(raw: Buffer, result: PushResult): void {
    const line = raw.length > 0 && raw[raw.length - 1] === CARRIAGE_RETURN ? raw.subarray(0, -1) : raw;
    if (isBlank(line)) return;
    if (!isUtf8(line)) {
      result.invalidUtf8++;
      return;
    }
    result.lines.push(line.toString('utf8'));
  }

  #overflow(result: PushResult): PushResult {
    this.#overflowed = true;
    this.#partial = EMPTY;
    this.#partialBytes = 0;
    return { ...result, overflow: true };
  }
}

function isBlank(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c !== 0x20 && c !== 0x09 && c !== CARRIAGE_RETURN) return false;
  }
  return true;
}

function lastNonWhitespace(buf: Buffer): number | undefined {
  for (let i = buf.length - 1; i >= 0; i--) {
    const c = buf[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== CARRIAGE_RETURN && c !== NEWLINE) return c;
  }
  return undefined;
}

function tryParseObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
