import type { Duplex } from 'node:stream';
import { isRcError, ProtocolError, type RcError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { createErrorFrame, decodeLine, decodeValue, encodeMessage, type Decoded } from '../protocol/codec.js';
import { LineFramer } from '../protocol/framing.js';
import { TokenBucket } from './limits.js';
import type { Envelope, MessageType } from '../protocol/types.js';

export interface ConnectionOptions {
  /** Who we are on the wire (`master` or a device id): the sender of our error frames. */
  localId: string;
  maxLineBytes: number;
  log: Logger;
  /** Quiet time before the one-shot rule looks at an unfinished line (PROTOCOL §2.3). */
  oneShotQuietMs?: number;
  oneShotMaxBytes?: number;
  /** A peer that lets this much unsent output pile up is not reading: drop it. */
  maxPendingWriteBytes?: number;
  /** Messages per second this peer may send (bursts up to 2×); unlimited when absent. */
  maxMsgsPerS?: number;
}

export interface ConnectionHandlers {
  onMessage(message: Envelope, conn: Connection): void;
  /** A frame was rejected (the connection already answered with an error frame). */
  onFrameError?(err: RcError, conn: Connection): void;
  onClose?(conn: Connection): void;
}

const DEFAULT_ONE_SHOT_QUIET_MS = 5;
const DEFAULT_ONE_SHOT_MAX_BYTES = 64 * 1024;
const DEFAULT_MAX_PENDING_WRITE_BYTES = 16 * 1024 * 1024;
const CLOSE_GRACE_MS = 1000;

let nextConnectionId = 1;

/**
 * One peer over any Duplex (TCP, TLS, an in-memory pair in tests).
 * Framing and decoding happen here; what a message *means* is the handler's
 * business. Replies produced while handling one read go out in one write.
 */
export class Connection {
  readonly id = nextConnectionId++;
  readonly remoteAddress: string | null;
  /** Set once the peer registered; every later frame must speak for this device. */
  deviceId: string | null = null;
  readonly #parentLog: Logger;
  #log: Logger | null = null;

  readonly #stream: Duplex;
  readonly #framer: LineFramer;
  readonly #handlers: ConnectionHandlers;
  readonly #opts: Required<Omit<ConnectionOptions, 'log' | 'maxMsgsPerS'>>;
  #bucket: TokenBucket | null = null;
  #rateExceeded = false;
  #outbox: string[] = [];
  #outboxBytes = 0;
  #inRead = false;
  #flushScheduled = false;
  #waitingForDrain = false;
  #oneShotTimer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(stream: Duplex, opts: ConnectionOptions, handlers: ConnectionHandlers) {
    this.#stream = stream;
    this.#handlers = handlers;
    this.#opts = {
      localId: opts.localId,
      maxLineBytes: opts.maxLineBytes,
      oneShotQuietMs: opts.oneShotQuietMs ?? DEFAULT_ONE_SHOT_QUIET_MS,
      oneShotMaxBytes: opts.oneShotMaxBytes ?? DEFAULT_ONE_SHOT_MAX_BYTES,
      maxPendingWriteBytes: opts.maxPendingWriteBytes ?? DEFAULT_MAX_PENDING_WRITE_BYTES,
    };
    this.#framer = new LineFramer({ maxLineBytes: opts.maxLineBytes });
    if (opts.maxMsgsPerS !== undefined) this.setRate(opts.maxMsgsPerS);
    const socket = stream as Duplex & { remoteAddress?: string };
    this.remoteAddress = socket.remoteAddress ?? null;
    this.#parentLog = opts.log;
    stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    stream.on('end', () => this.#onEnd());
    stream.on('drain', () => this.#onDrain());
    stream.on('error', (err) => this.log.debug({ err }, 'connection error'));
    stream.on('close', () => this.#onClose());
  }

  /**
   * This connection's child logger, made on first use: most connections never
   * log, and a pino child per connection was ~3 MB of heap at 10,000 devices.
   */
  get log(): Logger {
    this.#log ??= this.#parentLog.child({ conn: this.id, peer: this.remoteAddress });
    return this.#log;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Queue a message; it is written at the end of the current read or on the next tick. */
  send(message: Envelope<MessageType, object>): void {
    if (this.#closed) return;
    const line = encodeMessage(message);
    this.#outbox.push(line);
    this.#outboxBytes += line.length;
    if (this.#outboxBytes > this.#opts.maxPendingWriteBytes) {
      this.log.warn({ pending_bytes: this.#outboxBytes }, 'peer is not reading; dropping it');
      this.#handlers.onFrameError?.(new ProtocolError('RC_ERR_LIMIT_PENDING_WRITES', 'peer is not reading; dropped'), this);
      this.destroy();
      return;
    }
    if (!this.#inRead) this.#scheduleFlush();
  }

  /** Change the message rate limit (e.g. once the peer registered). */
  setRate(maxMsgsPerS: number): void {
    this.#bucket = new TokenBucket(maxMsgsPerS, maxMsgsPerS * 2, Date.now());
  }

  /** Answer with an error frame, flush, and close; used for limits. */
  refuse(err: RcError, messageId: string | null = null): void {
    this.#reject({ error: err, messageId });
    this.end();
    setTimeout(() => this.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Flush what is queued, then half-close. */
  end(): void {
    if (this.#closed) return;
    this.#flush();
    this.#stream.end();
  }

  destroy(): void {
    this.#clearOneShotTimer();
    this.#stream.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#clearOneShotTimer();
    const { lines, invalidUtf8, overflow } = this.#framer.push(chunk);
    this.#inRead = true;
    try {
      for (let i = 0; i < invalidUtf8; i++) {
        this.#reject({ error: new ProtocolError('RC_ERR_PROTO_INVALID_JSON', 'frame is not valid UTF-8'), messageId: null });
      }
      for (const line of lines) {
        if (!this.#withinRate()) break;
        this.#dispatch(decodeLine(line));
      }
      if (overflow) this.#rejectOversized();
    } finally {
      this.#inRead = false;
    }
    this.#flush();
    if (!overflow && this.#framer.pendingBytes > 0) this.#armOneShotTimer();
  }

  /** PROTOCOL §4.7: one token per frame; the first frame over the limit ends the connection. */
  #withinRate(): boolean {
    if (this.#rateExceeded) return false;
    if (this.#bucket === null || this.#bucket.take(Date.now())) return true;
    this.#rateExceeded = true;
    this.log.warn('message rate limit exceeded; closing');
    this.#stream.pause();
    this.refuse(new ProtocolError('RC_ERR_LIMIT_RATE', 'too many messages per second; closing'));
    return false;
  }

  #dispatch(decoded: Decoded): void {
    if (!decoded.ok) {
      this.#reject(decoded);
      return;
    }
    try {
      this.#handlers.onMessage(decoded.message, this);
    } catch (err) {
      this.#reject({ error: this.#toFrameError(err, decoded.message), messageId: decoded.message.message_id });
    }
  }

  /** Expected refusals keep their code; anything else is our bug, logged and reported as INTERNAL. */
  #toFrameError(err: unknown, message: Envelope): RcError {
    if (isRcError(err)) return err;
    this.log.error({ err, message_type: message.message_type }, 'handler failed');
    return new ProtocolError('RC_ERR_INTERNAL', 'internal error while handling the message', { cause: err });
  }

  #reject(decoded: { error: RcError; messageId: string | null }): void {
    this.log.debug({ code: decoded.error.code, msg_error: decoded.error.message }, 'frame rejected');
    this.send(createErrorFrame(decoded.error, { messageId: decoded.messageId }, this.#opts.localId));
    this.#handlers.onFrameError?.(decoded.error, this);
  }

  #rejectOversized(): void {
    const limit = this.#opts.maxLineBytes;
    const err = new ProtocolError('RC_ERR_PROTO_LINE_TOO_LONG', `line exceeds the limit of ${limit} bytes; closing`);
    this.log.warn({ limit }, 'line too long; closing connection');
    this.#reject({ error: err, messageId: null });
    this.end();
    // Stop reading: nothing else from this peer is worth buffering. Give the
    // error frame a moment to leave, then cut the peer off even if it never closes.
    this.#stream.pause();
    setTimeout(() => this.destroy(), CLOSE_GRACE_MS).unref();
  }

  #armOneShotTimer(): void {
    this.#oneShotTimer = setTimeout(() => {
      this.#oneShotTimer = null;
      this.#tryOneShot();
    }, this.#opts.oneShotQuietMs);
    this.#oneShotTimer.unref();
  }

  #clearOneShotTimer(): void {
    if (this.#oneShotTimer === null) return;
    clearTimeout(this.#oneShotTimer);
    this.#oneShotTimer = null;
  }

  #tryOneShot(): void {
    const frame = this.#framer.takeCompleteObject(this.#opts.oneShotMaxBytes);
    if (frame === null || !this.#withinRate()) return;
    this.#inRead = true;
    try {
      this.#dispatch(decodeValue(frame.value));
    } finally {
      this.#inRead = false;
    }
    this.#flush();
  }

  #onEnd(): void {
    // A peer that half-closes with an unfinished line still gets its answer.
    this.#clearOneShotTimer();
    if (!this.#framer.hasOverflowed) this.#tryOneShot();
    this.end();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#outbox.length === 0 || this.#waitingForDrain || this.#closed) return;
    const payload = this.#outbox.length === 1 ? this.#outbox[0]! : this.#outbox.join('');
    this.#outbox = [];
    this.#outboxBytes = 0;
    if (!this.#stream.writable) return;
    if (!this.#stream.write(payload)) this.#waitingForDrain = true;
  }

  #onDrain(): void {
    this.#waitingForDrain = false;
    this.#flush();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearOneShotTimer();
    this.#outbox = [];
    this.#handlers.onClose?.(this);
  }
}
