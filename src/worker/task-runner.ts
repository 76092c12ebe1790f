import type { Logger } from '../common/logger.js';
import { createAck, createErrorFrame, createMessage } from '../protocol/codec.js';
import { MASTER_ID, type Envelope, type MessageType, type TaskAssignData, type TaskCancelData } from '../protocol/types.js';
import { TaskExecutor, type AcceptResult, type ProgressData, type ResultData } from './executor.js';
import { outboxKey, ResultOutbox } from './outbox.js';
import { fitResultToFrame, ProgressLimiter } from './result-fit.js';
import type { TaskTypeDefinition } from './tasks/types.js';

const RESEND_AFTER_MS = 2000;
/** Error codes that say the frame itself is wrong, so resending it is pointless. */
const PERMANENT_REFUSALS = new Set(['RC_ERR_PROTO_SCHEMA', 'RC_ERR_PROTO_INVALID_ENVELOPE', 'RC_ERR_PROTO_LINE_TOO_LONG']);

/** The current registered connection to the master, as the runner needs it. */
export interface MasterLink {
  send(message: Envelope<MessageType, object>): void;
  /** Send and await the reply; null on timeout or loss of the connection. */
  request(message: Envelope<MessageType, object>): Promise<Envelope | null>;
}

export interface TaskRunnerOptions {
  deviceId: string;
  maxTasks: number;
  types: ReadonlyMap<string, TaskTypeDefinition>;
  outputCapBytes: number;
  /** The wire's line limit: a result frame must fit in it (PROTOCOL §2.2). */
  maxLineBytes: number;
  log: Logger;
  /** Where finished results wait for the master's ack; in memory when omitted. */
  outbox?: ResultOutbox;
  /** Why new tasks are refused now (power policy), or null. */
  pauseReason?: () => string | null;
}

/**
 * Bridges the master's task messages and the executor. Results are kept in
 * an outbox (on disk, see outbox.ts) until the master acknowledges them (it
 * stores before it acks), so a result finished while the master was
 * unreachable, or before the worker restarted, is delivered after the next
 * register.
 */
export class TaskRunner {
  readonly executor: TaskExecutor;
  readonly #opts: TaskRunnerOptions;
  readonly #outbox: ResultOutbox;
  readonly #delivering = new Set<string>();
  #link: MasterLink | null = null;
  readonly #progressLimiter = new ProgressLimiter();

  constructor(opts: TaskRunnerOptions) {
    this.#opts = opts;
    this.#outbox = opts.outbox ?? ResultOutbox.inMemory();
    this.executor = new TaskExecutor({
      maxTasks: opts.maxTasks,
      types: opts.types,
      log: opts.log,
      outputCapBytes: opts.outputCapBytes,
      onProgress: (p) => this.#sendProgress(p),
      onResult: (r) => this.#queueResult(r),
    });
  }

  get taskTypes(): string[] {
    return [...this.#opts.types.keys()];
  }

  /** What register reports as still ours: running tasks and results not yet acknowledged. */
  heldTasks(): Array<{ task_id: string; attempt: number }> {
    const held = this.executor.running();
    for (const r of this.#outbox.values()) held.push({ task_id: r.task_id, attempt: r.attempt });
    return held;
  }

  /** Called with the session once registered, and with null when it is gone. */
  attach(link: MasterLink | null): void {
    this.#link = link;
    if (link) for (const key of this.#outbox.keys()) void this.#deliver(key);

  }

  onAssign(msg: Envelope<'task_assign', TaskAssignData>, link: MasterLink): void {
    const paused = this.#opts.pauseReason?.() ?? null;
    // The master skips paused devices; this covers an assignment that crossed our heartbeat.
    const accepted: AcceptResult = paused === null ? this.executor.accept(msg.data) : { ok: false, code: 'RC_ERR_TASK_WORKER_PAUSED', message: `paused: ${paused}` };
    if (accepted.ok) {
      // Quiet assignment (PROTOCOL §5.9): `started` and the result say it was accepted.
      if (msg.data.reply !== false) link.send(createAck(msg, { task_id: msg.data.task_id, attempt: msg.data.attempt }, this.#opts.deviceId));
      return;
    }
    this.#opts.log.warn({ task_id: msg.data.task_id, code: accepted.code, reason: accepted.message }, 'task refused');
    link.send(createErrorFrame({ code: accepted.code, message: accepted.message, details: undefined }, { messageId: msg.message_id, receiver: msg.sender_id }, this.#opts.deviceId));
  }

  onCancel(msg: Envelope<'task_cancel', TaskCancelData>, link: MasterLink): void {
    const found = this.executor.cancel(msg.data.task_id, msg.data.attempt);
    this.#opts.log.info({ task_id: msg.data.task_id, reason: msg.data.reason ?? null, found }, 'task cancel requested');
    link.send(createAck(msg, { task_id: msg.data.task_id, found }, this.#opts.deviceId));
  }

  /** Wait until every queued result was acknowledged, or the time is up. */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#outbox.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.#outbox.size === 0;
  }

  #sendProgress(p: ProgressData): void {
    // Progress is best effort (the output is also in the result), and rate-limited so
    // a task printing millions of lines cannot flood the link to the master.
    if (p.event === 'output' && !this.#progressLimiter.allow(p.task_id, this.#link !== null)) return;
    this.#link?.send(createMessage('task_progress', p, { sender: this.#opts.deviceId, receiver: MASTER_ID }));
  }

  #queueResult(r: ResultData): void {
    this.#progressLimiter.forget(r.task_id);
    const result = fitResultToFrame(r, this.#opts.maxLineBytes);
    try {
      this.#outbox.put(result);
    } catch (err) {
      // A full or broken disk must not stop the worker: the result is still held in memory and sent.
      this.#opts.log.error({ err, task_id: r.task_id }, 'outbox: could not write the result to disk');
    }
    void this.#deliver(outboxKey(result));
  }

  async #deliver(key: string): Promise<void> {
    const link = this.#link;
    const result = this.#outbox.get(key);
    if (!link || !result || this.#delivering.has(key)) return;
    this.#delivering.add(key);
    try {
      const reply = await link.request(createMessage('task_result', result, { sender: this.#opts.deviceId, receiver: MASTER_ID }));
      if (reply?.message_type === 'ack') {
        this.#forget(key);
        return;
      }
      const code = reply?.data['code'];
      if (typeof code === 'string' && PERMANENT_REFUSALS.has(code)) {
        // Sending the same frame again cannot succeed: keep the worker healthy and say so loudly.
        this.#opts.log.error({ key, reply: reply?.data }, 'result refused as malformed; dropping it');
        this.#forget(key);
        return;
      }
      this.#opts.log.warn({ key, reply: reply?.data ?? 'no reply' }, 'result not acknowledged; will resend');
      // Still connected (no answer in time, or the master's store refused it): try again
      // shortly. If the connection is gone, attach() resends after the next register.
      if (this.#link === link) setTimeout(() => void this.#deliver(key), RESEND_AFTER_MS).unref();
    } finally {
      this.#delivering.delete(key);
    }
  }

  #forget(key: string): void {
    try {
      this.#outbox.remove(key);
    } catch (err) {
      // Worst case the result is sent again after a restart; the master acks duplicates (§11).
      this.#opts.log.warn({ err, key }, 'outbox: could not record the ack on disk');
    }
  }
}
