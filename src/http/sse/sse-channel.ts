import { EventRing, type Gap, type RingEvent } from './event-ring.js';
import { formatJsonEvent } from './format.js';
import type { SseConnection } from './sse-connection.js';

interface Subscriber<M> {
  conn: SseConnection;
  accepts(meta: M): boolean;
}

const acceptAll = (): boolean => true;

/**
 * One SSE stream: a ring of recent events and the clients following it.
 * `publish` serialises once and hands the text to every client without
 * waiting for any of them.
 */
export class SseChannel<M> {
  readonly ring: EventRing<M>;
  readonly #subs = new Set<Subscriber<M>>();

  constructor(capacity: number, firstId = 1) {
    this.ring = new EventRing<M>(capacity, firstId);
  }

  get subscriberCount(): number {
    return this.#subs.size;
  }

  /**
   * Record an event and send it to every client that wants it. `json` is
   * serialised JSON text, or a function that makes it: then nothing is
   * serialised until a client reads the event.
   */
  publish(event: string, json: string | (() => string), meta: M): RingEvent<M> {
    const ev = typeof json === 'string'
      ? this.ring.push((id) => formatJsonEvent(id, event, json), meta)
      : this.ring.pushLazy((id) => formatJsonEvent(id, event, json()), meta);
    for (const sub of this.#subs) {
      if (sub.accepts(meta)) sub.conn.send(ev.id, ev.frame);
    }
    return ev;
  }

  /**
   * Replay what came after `afterId` (null: nothing, live events only), with
   * a `gap` notice first when part of it is gone, then follow. Returns the
   * function that stops following.
   */
  attach(conn: SseConnection, afterId: number | null, accepts: (meta: M) => boolean = acceptAll): () => void {
    if (afterId !== null) this.replay(conn, afterId, accepts);
    if (conn.isClosed) return () => undefined;
    const sub: Subscriber<M> = { conn, accepts };
    this.#subs.add(sub);
    return () => this.#subs.delete(sub);
  }

  /** Send the events after `afterId` to one client (gap notice first when needed). */
  replay(conn: SseConnection, afterId: number, accepts: (meta: M) => boolean = acceptAll): void {
    const { gap, events, gapId } = this.ring.since(afterId);
    if (gap) conn.send(gapId, formatJsonEvent(gapId, 'gap', JSON.stringify(gapNotice(gap, afterId, this.ring))));
    for (const ev of events) {
      if (accepts(ev.meta)) conn.send(ev.id, ev.frame);
    }
  }

  /** The stream is complete: every client gets the rest and its response ends. */
  endAll(): void {
    const subs = [...this.#subs];
    this.#subs.clear();
    for (const sub of subs) sub.conn.end();
  }
}

function gapNotice(gap: Gap, afterId: number, ring: EventRing<unknown>): Gap & { message: string } {
  const message = gap.missed_from === null
    ? `event id ${afterId} is newer than this stream's newest (${ring.lastId}): the master restarted; replaying the ${ring.size} buffered events`
    : `events ${gap.missed_from}..${gap.missed_to} are no longer buffered (the stream keeps the last ${ring.capacity}); continuing from ${ring.oldestId}`;
  return { ...gap, message };
}
