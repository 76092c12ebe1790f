import { EventEmitter } from 'node:events';
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { nextDelay } from '../common/backoff.js';
import type { WorkerConfig } from '../common/config.js';
import type { Logger } from '../common/logger.js';
import { createMessage, createErrorFrame } from '../protocol/codec.js';
import { MASTER_ID, PROTOCOL_VERSION, type Envelope, type HeartbeatMetrics, type RegisterData } from '../protocol/types.js';
import { Connection } from '../transport/connection.js';

export type WorkerStatus = 'connecting' | 'registered' | 'backing_off' | 'closed';

export interface WorkerDeps {
  config: Readonly<WorkerConfig>;
  log: Logger;
  deviceId: string;
  master: { host: string; port: number };
  collectProfile(): Promise<RegisterData>;
  sampleMetrics(activeTasks: number): Promise<HeartbeatMetrics>;
  random?: () => number;
  /** Opens the stream to the master; injectable so tests can put a hostile proxy in between. */
  dial?: (host: string, port: number) => Promise<Duplex>;
}

const REPLY_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 10_000;
/** Unanswered heartbeats before we assume the master is gone and reconnect. */
const MAX_UNACKED_HEARTBEATS = 3;

/**
 * The worker's connect loop: connect → register → heartbeat, and on any loss,
 * back off with full jitter and try again, forever (PROTOCOL §7). Status
 * changes are emitted as 'status' events that tests can await.
 */
export class Worker extends EventEmitter {
  status: WorkerStatus = 'connecting';
  readonly deviceId: string;
  readonly #deps: WorkerDeps;
  readonly #abort = new AbortController();
  #session: Session | null = null;
  #loop: Promise<void> | null = null;

  constructor(deps: WorkerDeps) {
    super();
    this.#deps = deps;
    this.deviceId = deps.deviceId;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Idempotent: stops the loop and closes the connection. */
  async close(): Promise<void> {
    if (!this.#abort.signal.aborted) {
      this.#abort.abort();
      this.#session?.close();
    }
    await this.#loop;
    this.#setStatus('closed');
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#abort.signal.aborted) {
      this.#setStatus('connecting');
      const registered = await this.#runSession();
      if (registered) attempt = 0;
      if (this.#abort.signal.aborted) break;
      const delayMs = nextDelay(attempt++, this.#backoff(), this.#deps.random);
      this.#setStatus('backing_off');
      this.#deps.log.info({ delay_ms: delayMs, attempt }, 'master unreachable; retrying');
      await sleep(delayMs, undefined, { signal: this.#abort.signal }).catch(() => undefined);
    }
  }

  /** One connection's life; resolves when it ends. True if it got registered. */
  async #runSession(): Promise<boolean> {
    const { host, port } = this.#deps.master;
    let stream: Duplex;
    try {
      stream = await (this.#deps.dial ?? dialTcp)(host, port);
    } catch (err) {
      this.#deps.log.debug({ err, host, port }, 'connect failed');
      return false;
    }
    const session = new Session(stream, this.#deps, (s) => this.#setStatus(s));
    this.#session = session;
    if (this.#abort.signal.aborted) session.close();
    const registered = await session.done;
    this.#session = null;
    return registered;
  }

  #backoff(): { baseMs: number; maxMs: number } {
    return { baseMs: this.#deps.config.backoff_base_s * 1000, maxMs: this.#deps.config.backoff_max_s * 1000 };
  }

  #setStatus(status: WorkerStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.emit('status', status);
  }
}

function dialTcp(host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port, timeout: CONNECT_TIMEOUT_MS });
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 30_000);
      resolve(socket);
    });
    socket.once('timeout', () => socket.destroy(new Error(`connect to ${host}:${port} timed out`)));
    socket.once('error', reject);
  });
}

type PendingReply = { resolve(msg: Envelope | null): void; timer: NodeJS.Timeout };

/** One connection to the master: register, then heartbeat until it closes. */
class Session {
  readonly done: Promise<boolean>;
  readonly #conn: Connection;
  readonly #deps: WorkerDeps;
  readonly #onStatus: (s: WorkerStatus) => void;
  readonly #pending = new Map<string, PendingReply>();
  #heartbeatTimer: NodeJS.Timeout | null = null;
  #unacked = 0;
  #registered = false;

  constructor(stream: Duplex, deps: WorkerDeps, onStatus: (s: WorkerStatus) => void) {
    this.#deps = deps;
    this.#onStatus = onStatus;
    let finish: (registered: boolean) => void = () => undefined;
    this.done = new Promise((resolve) => (finish = resolve));
    this.#conn = new Connection(
      stream,
      { localId: deps.deviceId, maxLineBytes: deps.config.max_line_bytes, log: deps.log },
      { onMessage: (msg) => this.#onMessage(msg), onClose: () => this.#onClose(finish) },
    );
    void this.#register();
  }

  close(): void {
    this.#conn.end();
    this.#conn.destroy();
  }

  async #register(): Promise<void> {
    try {
      await this.#registerOnce();
    } catch (err) {
      this.#deps.log.error({ err }, 'register failed');
      this.close();
    }
  }

  async #registerOnce(): Promise<void> {
    const profile = await this.#deps.collectProfile();
    const data: RegisterData = { ...profile, protocol_version: PROTOCOL_VERSION, device_id: this.#deps.deviceId, running_tasks: [] };
    const reply = await this.#request(createMessage('register', data, { sender: this.#deps.deviceId, receiver: MASTER_ID }));
    if (reply?.message_type !== 'ack') {
      this.#deps.log.warn({ reply: reply?.data ?? 'timeout' }, 'register refused');
      this.close();
      return;
    }
    const intervalS = Number((reply.data['result'] as Record<string, unknown> | undefined)?.['heartbeat_interval'] ?? 15);
    this.#registered = true;
    this.#unacked = 0;
    this.#deps.log.info({ heartbeat_interval_s: intervalS }, 'registered with master');
    this.#onStatus('registered');
    this.#startHeartbeats(intervalS);
  }

  #startHeartbeats(intervalS: number): void {
    if (this.#heartbeatTimer !== null) clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = setInterval(() => void this.#heartbeat(), Math.max(100, intervalS * 1000));
  }

  async #heartbeat(): Promise<void> {
    if (this.#unacked >= MAX_UNACKED_HEARTBEATS) {
      this.#deps.log.warn({ unacked: this.#unacked }, 'master stopped answering; reconnecting');
      this.close();
      return;
    }
    this.#unacked++;
    const metrics = await this.#deps.sampleMetrics(0);
    const reply = await this.#request(createMessage('heartbeat', { device_id: this.#deps.deviceId, metrics }, { sender: this.#deps.deviceId, receiver: MASTER_ID }));
    if (reply === null) return;
    this.#unacked = 0;
    if (reply.message_type === 'error' && reply.data['code'] === 'RC_ERR_DEVICE_UNKNOWN') {
      // The master lost us (e.g. its store was reset): register again on this connection.
      this.#deps.log.warn('master does not know this device; registering again');
      void this.#register();
    }
  }

  /** Send and await the reply that names our message_id; null on timeout or close. */
  #request(msg: Envelope): Promise<Envelope | null> {
    if (this.#conn.isClosed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(msg.message_id);
        resolve(null);
      }, REPLY_TIMEOUT_MS);
      this.#pending.set(msg.message_id, { resolve, timer });
      this.#conn.send(msg);
    });
  }

  #onMessage(msg: Envelope): void {
    const original = msg.data['original_message_id'];
    if ((msg.message_type === 'ack' || msg.message_type === 'error') && typeof original === 'string') {
      const pending = this.#pending.get(original);
      if (pending) {
        this.#pending.delete(original);
        clearTimeout(pending.timer);
        pending.resolve(msg);
      }
      return;
    }
    // Task messages arrive with the task issue; until then say so instead of ignoring them.
    const err = { code: 'RC_ERR_PROTO_UNEXPECTED' as const, message: `${msg.message_type} is not supported by this worker`, details: undefined };
    this.#conn.send(createErrorFrame(err, { messageId: msg.message_id, receiver: msg.sender_id }, this.#deps.deviceId));
  }

  #onClose(finish: (registered: boolean) => void): void {
    if (this.#heartbeatTimer !== null) clearInterval(this.#heartbeatTimer);
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.resolve(null);
    }
    this.#pending.clear();
    finish(this.#registered);
  }
}
