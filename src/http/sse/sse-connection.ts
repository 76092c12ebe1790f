import { formatComment, formatJsonEvent, formatRetry } from './format.js';

/** The part of an http.ServerResponse an SSE connection uses (a fake in unit tests). */
export interface SseSink {
  write(chunk: string): boolean;
  end(): unknown;
  destroy(): unknown;
  on(event: 'drain' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
}

export interface SseConnectionOptions {
  /** Pending bytes (written while the socket was full) before the client is dropped. */
  maxQueueBytes: number;
  /** Pending events before the client is dropped. */
  maxQueueEvents: number;
  /** A `: keep-alive` comment this often, so proxies and clients see a live connection. */
  keepAliveMs: number;
  /** After the last write, a client that does not take it is cut off after this long. */
  lingerMs: number;
  /** Sent first as `retry:`: how long a client waits before it reconnects. */
  retryMs: number;
}

/** client_gone: the client closed; dropped: it did not keep up; ended: the stream is over; shutdown: the master stops. */
export type CloseReason = 'client_gone' | 'dropped' | 'ended' | 'shutdown';

interface Pending {
  id: number;
  frame: string;
}

/**
 * One SSE client. `send()` never blocks and never throws: while the socket is
 * full, events wait in a bounded queue; when that overflows the client gets
 * a final `dropped` notice and is disconnected. `onClose` runs exactly once.
 */
export class SseConnection {
  readonly #sink: SseSink;
  readonly #opts: SseConnectionOptions;
  readonly #onClose: (reason: CloseReason) => void;
  #queue: Pending[] = [];
  #queueBytes = 0;
  #isBlocked = false;
  #isClosed = false;
  #lastWrittenId: number | null = null;
  #keepAlive: NodeJS.Timeout | null = null;
  #linger: NodeJS.Timeout | null = null;

  constructor(sink: SseSink, opts: SseConnectionOptions, onClose: (reason: CloseReason) => void) {
    this.#sink = sink;
    this.#opts = opts;
    this.#onClose = onClose;
  }

  /** Start the stream: listeners, `retry:`, keep-alive. */
  open(): void {
    this.#sink.on('drain', () => this.#flush());
    this.#sink.on('close', () => this.#onSinkClosed());
    // A reset socket is a client gone, reported through 'close'; it must not crash the master.
    this.#sink.on('error', () => undefined);
    this.#write(formatRetry(this.#opts.retryMs));
    this.#keepAlive = setInterval(() => this.#sendKeepAlive(), this.#opts.keepAliveMs);
    this.#keepAlive.unref();
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** The id of the last event handed to the socket (a reconnect resumes after it). */
  get lastWrittenId(): number | null {
    return this.#lastWrittenId;
  }

  get queuedEvents(): number {
    return this.#queue.length;
  }

  /** Queue or write one event. Never waits; may drop the client. */
  send(id: number, frame: string): void {
    if (this.#isClosed) return;
    if (!this.#isBlocked) {
      this.#writeEvent(id, frame);
      return;
    }
    const bytes = Buffer.byteLength(frame);
    if (this.#queue.length + 1 > this.#opts.maxQueueEvents || this.#queueBytes + bytes > this.#opts.maxQueueBytes) {
      this.#drop();
      return;
    }
    this.#queue.push({ id, frame });
    this.#queueBytes += bytes;
  }

  /** The stream is complete: hand over what is queued, then end the response. */
  end(): void {
    if (this.#isClosed) return;
    for (const p of this.#queue) this.#writeEvent(p.id, p.frame);
    this.#finish('ended', null);
  }

  /** The master is stopping: say so (clients reconnect with Last-Event-ID), then end the response. */
  close(): void {
    this.#finish('shutdown', 'event: shutdown\ndata: {"reason":"master stopping"}\n\n');
  }

  #writeEvent(id: number, frame: string): void {
    this.#lastWrittenId = id;
    this.#write(frame);
  }

  #write(chunk: string): void {
    try {
      if (!this.#sink.write(chunk)) this.#isBlocked = true;
    } catch {
      // Writing to a socket that just went away: 'close' follows and cleans up.
      this.#isBlocked = true;
    }
  }

  #flush(): void {
    if (this.#isClosed) return;
    this.#isBlocked = false;
    let i = 0;
    while (i < this.#queue.length && !this.#isBlocked) {
      const p = this.#queue[i++]!;
      this.#queueBytes -= Buffer.byteLength(p.frame);
      this.#writeEvent(p.id, p.frame);
    }
    this.#queue = this.#queue.slice(i);
  }

  #sendKeepAlive(): void {
    if (!this.#isClosed && !this.#isBlocked) this.#write(formatComment('keep-alive'));
  }

  #drop(): void {
    const notice = formatJsonEvent(this.#lastWrittenId, 'dropped', JSON.stringify({
      message: 'this client did not read fast enough and was disconnected; reconnect with Last-Event-ID to resume',
      last_event_id: this.#lastWrittenId,
      pending_events: this.#queue.length,
      pending_bytes: this.#queueBytes,
    }));
    this.#finish('dropped', notice);
  }

  /** End the response (after an optional last frame) and cut the socket if the client never takes it. */
  #finish(reason: CloseReason, lastFrame: string | null): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#stopKeepAlive();
    this.#queue = [];
    this.#queueBytes = 0;
    try {
      if (lastFrame !== null) this.#sink.write(lastFrame);
      this.#sink.end();
    } catch {
      // already gone
    }
    this.#linger = setTimeout(() => this.#sink.destroy(), this.#opts.lingerMs);
    this.#linger.unref();
    this.#onClose(reason);
  }

  #onSinkClosed(): void {
    if (this.#linger !== null) clearTimeout(this.#linger);
    this.#linger = null;
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#stopKeepAlive();
    this.#queue = [];
    this.#onClose('client_gone');
  }

  #stopKeepAlive(): void {
    if (this.#keepAlive !== null) clearInterval(this.#keepAlive);
    this.#keepAlive = null;
  }
}
