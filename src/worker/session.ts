import type { Duplex } from 'node:stream';
import { createErrorFrame, createMessage } from '../protocol/codec.js';
import { MASTER_ID, PROTOCOL_VERSION, type Envelope, type MessageType, type RegisterData, type TaskAssignData, type TaskCancelData } from '../protocol/types.js';
import { Connection } from '../transport/connection.js';
import type { MasterLink, TaskRunner } from './task-runner.js';
import type { WorkerDeps, WorkerStatus } from './worker.js';

const REPLY_TIMEOUT_MS = 10_000;
/**
 * Quiet heartbeats (PROTOCOL §5.2): only every ASK_EVERY-th periodic heartbeat
 * asks for an ack, because the ack's socket write is most of what a heartbeat
 * costs the master. After MAX_UNANSWERED_ASKS asks without a reply we assume
 * the master is gone and reconnect.
 */
const ASK_EVERY = 3;
const MAX_UNANSWERED_ASKS = 2;

type PendingReply = { resolve(msg: Envelope | null): void; timer: NodeJS.Timeout };

/** One connection to the master: register, then heartbeat and carry tasks until it closes. */
export class Session implements MasterLink {
  /** Resolves when the connection is gone: true if it got registered. */
  readonly done: Promise<boolean>;
  readonly #conn: Connection;
  readonly #deps: WorkerDeps;
  readonly #runner: TaskRunner;
  readonly #onStatus: (s: WorkerStatus) => void;
  readonly #pending = new Map<string, PendingReply>();
  #heartbeatTimer: NodeJS.Timeout | null = null;
  #unanswered = 0;
  #beats = 0;
  #registered = false;
  #reregistering = false;
  #runnerAttached = false;
  /** The master answered the register with an error (as opposed to not answering). */
  refused = false;

  constructor(stream: Duplex, deps: WorkerDeps, runner: TaskRunner, onStatus: (s: WorkerStatus) => void) {
    this.#deps = deps;
    this.#runner = runner;
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

  send(message: Envelope<MessageType, object>): void {
    this.#conn.send(message);
  }

  /** Send and await the reply that names our message_id; null on timeout or close. */
  request(message: Envelope<MessageType, object>): Promise<Envelope | null> {
    if (this.#conn.isClosed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(message.message_id);
        resolve(null);
      }, REPLY_TIMEOUT_MS);
      this.#pending.set(message.message_id, { resolve, timer });
      this.#conn.send(message);
    });
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
    const data: RegisterData = {
      ...profile,
      protocol_version: PROTOCOL_VERSION,
      device_id: this.#deps.deviceId,
      task_types: this.#runner.taskTypes,
      running_tasks: this.#runner.heldTasks(),
    };
    const auth = this.#deps.credentials.authFor(this.#deps.deviceId);
    if (auth) data.auth = auth;
    const reply = await this.request(createMessage('register', data, { sender: this.#deps.deviceId, receiver: MASTER_ID }));
    if (reply?.message_type !== 'ack') {
      this.#logRefusal(reply);
      this.close();
      return;
    }
    const result = (reply.data['result'] ?? {}) as Record<string, unknown>;
    // First enrolment: keep the secret before anything else; it is our identity from now on.
    if (typeof result['device_secret'] === 'string') this.#deps.credentials.saveDeviceSecret(result['device_secret']);
    const intervalS = Number(result['heartbeat_interval'] ?? 15);
    this.#registered = true;
    this.#unanswered = 0;
    this.#beats = 0;
    this.#deps.log.info({ heartbeat_interval_s: intervalS }, 'registered with master');
    // Always (again after a re-register): attaching also resends the results still held.
    this.#runnerAttached = true;
    this.#runner.attach(this);
    this.#onStatus('registered');
    this.#startHeartbeats(intervalS);
    // A register starts unpaused on the master; a paused worker says so at once, not a heartbeat later.
    if ((this.#deps.pauseReason?.() ?? null) !== null) void this.heartbeatNow();
  }

  #logRefusal(reply: Envelope | null): void {
    this.refused = reply?.message_type === 'error';
    const code = reply?.data['code'];
    if (typeof code === 'string' && code.startsWith('RC_ERR_AUTH_')) {
      this.#deps.log.error({ code, reason: reply?.data['message'] }, 'the master refused this device; check --token (or ask for the device to be re-enrolled)');
      return;
    }
    this.#deps.log.warn({ reply: reply?.data ?? 'timeout' }, 'register refused');
  }

  #startHeartbeats(intervalS: number): void {
    if (this.#heartbeatTimer !== null) clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = setInterval(() => {
      this.#heartbeat(++this.#beats % ASK_EVERY === 0).catch((err: unknown) => this.#deps.log.warn({ err }, 'heartbeat failed'));
    }, Math.max(100, intervalS * 1000));
  }

  /** An extra heartbeat now, e.g. to say the worker is pausing; resolves once answered (or not). */
  heartbeatNow(): Promise<void> {
    if (!this.#registered) return Promise.resolve();
    return this.#heartbeat(true).catch((err: unknown) => this.#deps.log.warn({ err }, 'heartbeat failed'));
  }

  /** `ask`: want an ack (a liveness probe of the master); otherwise a quiet heartbeat that only errors answer. */
  async #heartbeat(ask: boolean): Promise<void> {
    if (this.#unanswered >= MAX_UNANSWERED_ASKS) {
      this.#deps.log.warn({ unanswered: this.#unanswered }, 'master stopped answering; reconnecting');
      this.close();
      return;
    }
    const metrics = await this.#deps.sampleMetrics(this.#runner.executor.activeCount);
    const pauseReason = this.#deps.pauseReason?.() ?? null;
    if (pauseReason !== null) Object.assign(metrics, { paused: true, pause_reason: pauseReason });
    const data = ask ? { device_id: this.#deps.deviceId, metrics } : { device_id: this.#deps.deviceId, metrics, reply: false };
    const message = createMessage('heartbeat', data, { sender: this.#deps.deviceId, receiver: MASTER_ID });
    if (!ask) {
      this.#conn.send(message);
      return;
    }
    this.#unanswered++;
    const reply = await this.request(message);
    if (reply === null) return;
    this.#unanswered = 0;
    if (reply.message_type === 'error') this.#onUnsolicitedError(reply);
  }

  /** An error frame nobody awaits, e.g. the answer to a quiet heartbeat. */
  #onUnsolicitedError(msg: Envelope): void {
    if (msg.data['code'] !== 'RC_ERR_DEVICE_UNKNOWN' || this.#reregistering) return;
    // The master lost us (e.g. its store was reset): register again on this connection.
    this.#reregistering = true;
    this.#deps.log.warn('master does not know this device; registering again');
    void this.#register().finally(() => (this.#reregistering = false));
  }

  #onMessage(msg: Envelope): void {
    switch (msg.message_type) {
      case 'ack':
      case 'error':
        return this.#resolveReply(msg);
      case 'task_assign':
        // The master assigns only after accepting our register, and its assign
        // can arrive in the same read as the register ack, before #registerOnce
        // resumes: attach now, or the task's 'started' progress would be dropped.
        this.#attachRunner();
        return this.#runner.onAssign(msg as unknown as Envelope<'task_assign', TaskAssignData>, this);
      case 'task_cancel':
        return this.#runner.onCancel(msg as unknown as Envelope<'task_cancel', TaskCancelData>, this);
      default: {
        const err = { code: 'RC_ERR_PROTO_UNEXPECTED' as const, message: `${msg.message_type} is not sent to workers`, details: undefined };
        this.#conn.send(createErrorFrame(err, { messageId: msg.message_id, receiver: msg.sender_id }, this.#deps.deviceId));
      }
    }
  }

  #attachRunner(): void {
    if (this.#runnerAttached) return;
    this.#runnerAttached = true;
    this.#runner.attach(this);
  }

  #resolveReply(msg: Envelope): void {
    const original = msg.data['original_message_id'];
    if (typeof original !== 'string') return;
    const pending = this.#pending.get(original);
    if (!pending) {
      if (msg.message_type === 'error') this.#onUnsolicitedError(msg);
      return;
    }
    this.#pending.delete(original);
    clearTimeout(pending.timer);
    pending.resolve(msg);
  }

  #onClose(finish: (registered: boolean) => void): void {
    if (this.#heartbeatTimer !== null) clearInterval(this.#heartbeatTimer);
    this.#runner.attach(null);
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.resolve(null);
    }
    this.#pending.clear();
    finish(this.#registered);
  }
}
