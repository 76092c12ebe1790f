import { randomFillSync } from 'node:crypto';

/** 2^48: the first millisecond a UUIDv7 cannot hold (year 10889). */
const MAX_MS = 2 ** 48;
const COUNTER_MAX = 0xfff;
/** Bytes fetched from the CSPRNG at once; one syscall serves ~1,800 ids. */
const POOL_BYTES = 16 * 1024;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * RFC 9562 UUIDv7 generator, monotonic per instance (§6.2 method 1): the 12
 * rand_a bits are a counter seeded randomly each millisecond, so ids made in
 * the same millisecond, or after the clock stepped back, still sort strictly
 * increasing as strings. When the counter runs out the timestamp moves one
 * millisecond ahead of the clock rather than repeat or go back.
 */
export class Uuidv7Generator {
  #lastMs = -1;
  #counter = 0;
  /** "tttttttt-tttt-" for #lastMs, rebuilt only when the millisecond changes. */
  #prefix = '';
  readonly #pool = Buffer.allocUnsafe(POOL_BYTES);
  #poolPos = POOL_BYTES;

  /** `nowMs` defaults to Date.now(); fractions are dropped. */
  next(nowMs: number = Date.now()): string {
    const ms = Math.floor(nowMs);
    if (!(ms >= 0 && ms < MAX_MS)) throw new RangeError(`uuidv7 timestamp out of range: ${nowMs}`);
    if (ms > this.#lastMs) this.#startMs(ms);
    else if (++this.#counter > COUNTER_MAX) this.#startMs(this.#lastMs + 1);
    return this.#format();
  }

  #startMs(ms: number): void {
    if (ms >= MAX_MS) throw new RangeError('uuidv7 timestamp overflow');
    this.#lastMs = ms;
    // The top counter bit starts at 0 (RFC 9562 §6.2), leaving ≥ 2048 ids per ms before overflow.
    this.#counter = ((this.#byte() << 8) | this.#byte()) & 0x7ff;
    this.#prefix = timestampPrefix(ms);
  }

  #format(): string {
    const c = this.#counter;
    const p = this.#takeRandom(8);
    const b = this.#pool;
    return (
      this.#prefix + HEX[0x70 | (c >>> 8)]! + HEX[c & 0xff]! + '-' +
      HEX[0x80 | (b[p]! & 0x3f)]! + HEX[b[p + 1]!]! + '-' +
      HEX[b[p + 2]!]! + HEX[b[p + 3]!]! + HEX[b[p + 4]!]! + HEX[b[p + 5]!]! + HEX[b[p + 6]!]! + HEX[b[p + 7]!]!
    );
  }

  #byte(): number {
    return this.#pool[this.#takeRandom(1)]!;
  }

  /** Returns the offset of `n` fresh random bytes in the pool. */
  #takeRandom(n: number): number {
    if (this.#poolPos + n > POOL_BYTES) {
      randomFillSync(this.#pool);
      this.#poolPos = 0;
    }
    const at = this.#poolPos;
    this.#poolPos += n;
    return at;
  }
}

function timestampPrefix(ms: number): string {
  const hi = Math.floor(ms / 2 ** 32);
  const lo = ms >>> 0;
  return (
    HEX[hi >>> 8]! + HEX[hi & 0xff]! + HEX[lo >>> 24]! + HEX[(lo >>> 16) & 0xff]! + '-' +
    HEX[(lo >>> 8) & 0xff]! + HEX[lo & 0xff]! + '-'
  );
}

/** The unix milliseconds in a UUIDv7's first 48 bits. */
export function uuidv7Timestamp(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

const processGenerator = new Uuidv7Generator();

/**
 * A UUIDv7 (RFC 9562) from the process-wide generator: ids sort strictly
 * increasing in creation order across the whole process. An explicit `nowMs`
 * earlier than an id already made is treated like a clock going backwards
 * (the id carries the later timestamp).
 */
export function uuidv7(nowMs?: number): string {
  return processGenerator.next(nowMs);
}
