/** One event as a stream keeps it: its id, its wire text, and what a client filters on. */
export interface RingEvent<M> {
  readonly id: number;
  /** The whole event as written to the wire (`id:`, `event:`, `data:`, blank line). */
  readonly frame: string;
  readonly meta: M;
}

/** What a resuming client missed for good: ids that fell out of the ring. */
export interface Gap {
  /** null when the id is newer than this stream knows (the master restarted since). */
  missed_from: number | null;
  missed_to: number | null;
}

export interface Replay<M> {
  gap: Gap | null;
  events: RingEvent<M>[];
  /** The id the client has accounted for once it got the gap notice. */
  gapId: number;
}

/**
 * The last `capacity` events of one stream, with ids 1, 2, 3… A client that
 * reconnects with the last id it saw gets everything after it, or learns
 * exactly which ids it can no longer get.
 */
export class EventRing<M> {
  readonly capacity: number;
  readonly #items: Array<RingEvent<M> | undefined>;
  #start = 0;
  #size = 0;
  #lastId = 0;
  #chars = 0;
  /** Per slot, the characters its event counts in `chars` (0 for a lazy one): no lookup per eviction. */
  readonly #countedChars: Uint32Array;

  /** `firstId` > 1 continues the ids of an earlier ring for the same stream. */
  constructor(capacity: number, firstId = 1) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.#items = new Array<RingEvent<M> | undefined>(capacity);
    this.#countedChars = new Uint32Array(capacity);
    this.#lastId = Math.max(0, Math.trunc(firstId) - 1);
  }

  /** The id of the newest event (0 before the first). */
  get lastId(): number {
    return this.#lastId;
  }

  /** The id of the oldest event still held (lastId + 1 when empty). */
  get oldestId(): number {
    return this.#lastId - this.#size + 1;
  }

  get size(): number {
    return this.#size;
  }

  /** Characters of wire text held (≈ bytes for JSON): what a memory budget counts. */
  get chars(): number {
    return this.#chars;
  }

  /** Append an event; `format` gets the new id and returns the wire text. */
  push(format: (id: number) => string, meta: M): RingEvent<M> {
    const id = this.#lastId + 1;
    return this.#append({ id, frame: format(id), meta }, true);
  }

  /**
   * Append an event whose text is made only when someone reads it (a client
   * follows or replays). A busy master changes thousands of tasks a second;
   * rendering each into JSON for a stream nobody watches was an eighth of its
   * CPU. Lazy events are not counted in `chars` (only per-task rings, which
   * are never lazy, use that budget).
   */
  pushLazy(format: (id: number) => string, meta: M): RingEvent<M> {
    return this.#append(new LazyEvent(this.#lastId + 1, meta, format), false);
  }

  #append(event: RingEvent<M>, counted: boolean): RingEvent<M> {
    this.#lastId = event.id;
    const chars = counted ? event.frame.length : 0;
    this.#chars += chars;
    let slot: number;
    if (this.#size < this.capacity) {
      slot = (this.#start + this.#size) % this.capacity;
      this.#size += 1;
    } else {
      slot = this.#start;
      this.#chars -= this.#countedChars[slot]!;
      this.#start = (this.#start + 1) % this.capacity;
    }
    this.#items[slot] = event;
    this.#countedChars[slot] = chars;
    return event;
  }

  /** Everything after `afterId`, and the gap when some of it is gone. */
  since(afterId: number): Replay<M> {
    const oldest = this.oldestId;
    if (afterId > this.#lastId) {
      return { gap: { missed_from: null, missed_to: null }, events: this.#slice(0), gapId: oldest - 1 };
    }
    if (afterId < oldest - 1) {
      return { gap: { missed_from: afterId + 1, missed_to: oldest - 1 }, events: this.#slice(0), gapId: oldest - 1 };
    }
    return { gap: null, events: this.#slice(afterId - oldest + 1), gapId: afterId };
  }

  #slice(from: number): RingEvent<M>[] {
    const out: RingEvent<M>[] = [];
    for (let i = from; i < this.#size; i++) out.push(this.#items[(this.#start + i) % this.capacity]!);
    return out;
  }
}

/** A ring event whose wire text is made on first read (one small object per event, no closure for the getter). */
class LazyEvent<M> implements RingEvent<M> {
  readonly id: number;
  readonly meta: M;
  #format: ((id: number) => string) | null;
  #frame: string | null = null;

  constructor(id: number, meta: M, format: (id: number) => string) {
    this.id = id;
    this.meta = meta;
    this.#format = format;
  }

  get frame(): string {
    if (this.#frame === null) {
      this.#frame = this.#format!(this.id);
      this.#format = null; // the snapshot it closes over can go
    }
    return this.#frame;
  }
}
