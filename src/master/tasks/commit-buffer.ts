import type { Logger } from '../../common/logger.js';
import type { TaskEventRow, TaskRecord, TaskStore } from '../../store/store.js';

const RETRY_AFTER_FAILURE_MS = 1000;
/** Beyond this many background commits in flight, changes wait and join the next (bigger) one. */
const MAX_IN_FLIGHT = 4;

interface Waiter {
  send: () => void;
  /** Present: the waiter gives up on the first failure (e.g. a result ack becomes an error). */
  fail?: (err: unknown) => void;
}

/**
 * Group commit: every task change made while handling one batch of socket
 * reads is written in ONE transaction on the next turn of the event loop,
 * and only then are the messages that depend on it (result acks,
 * assignments) sent. One transaction per message would cap throughput at
 * the disk's commit rate; this keeps "persisted before acknowledged".
 *
 * When a commit fails, the rows are kept and retried; waiters without a
 * `fail` handler wait for the retry. `healthy` is false until a commit
 * succeeds again, so callers can stop making new promises meanwhile.
 */
export class CommitBuffer {
  readonly #store: TaskStore;
  readonly #log: Logger;
  #updates = new Map<string, TaskRecord>();
  #events: TaskEventRow[] = [];
  #waiters: Waiter[] = [];
  #scheduled = false;
  /**
   * Background commits in flight. They are committed in the order posted and
   * each carries copies of its rows, so several may be in flight: waiting for
   * each answer before posting the next left the event loop idle (measured).
   */
  #inFlight = 0;
  #healthy = true;
  #closed = false;

  readonly #beforeCommit: () => void;

  /**
   * `beforeCommit` runs first in the turn that commits: the task service
   * places work there, so new assignments share the transaction of the
   * results that freed their slots instead of waiting a turn for their own.
   */
  constructor(store: TaskStore, log: Logger, beforeCommit: () => void = () => undefined) {
    this.#store = store;
    this.#log = log;
    this.#beforeCommit = beforeCommit;
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  /** The row is written as it is at commit time (later changes in the same turn are included). */
  update(task: TaskRecord): void {
    this.#updates.set(task.task_id, task);
    this.#schedule();
  }

  event(row: TaskEventRow): void {
    this.#events.push(row);
    this.#schedule();
  }

  /** Run `send` once the current changes are durable; `fail` instead if the commit fails. */
  then(send: () => void, fail?: (err: unknown) => void): void {
    this.#waiters.push(fail ? { send, fail } : { send });
    this.#schedule();
  }

  /** Commit now (HTTP writes answer only after this). Throws the store's error. */
  flush(): void {
    // A background commit still in flight lands first; its callback may hand rows back to this buffer.
    this.#store.settleTaskCommits?.();
    const updates = [...this.#updates.values()];
    const events = this.#events;
    const waiters = this.#waiters;
    this.#updates = new Map();
    this.#events = [];
    this.#waiters = [];
    try {
      if (updates.length > 0 || events.length > 0) this.#store.commitTaskChanges({ updates, events });
    } catch (err) {
      this.#keepForRetry(updates, events, waiters, err);
      throw err;
    }
    this.#healthy = true;
    for (const w of waiters) runSafely(() => w.send(), this.#log);
  }

  /** No more retries after this (the store is about to close). */
  close(): void {
    this.#closed = true;
  }

  #keepForRetry(updates: TaskRecord[], events: TaskEventRow[], waiters: Waiter[], err: unknown): void {
    this.#healthy = false;
    // Memory stays the truth; the disk catches up on the next commit.
    for (const t of updates) if (!this.#updates.has(t.task_id)) this.#updates.set(t.task_id, t);
    this.#events = events.concat(this.#events);
    const patient = waiters.filter((w) => w.fail === undefined);
    for (const w of waiters) if (w.fail) runSafely(() => w.fail!(err), this.#log);
    this.#waiters = patient.concat(this.#waiters);
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      runSafely(this.#beforeCommit, this.#log);
      if (this.#inFlight >= MAX_IN_FLIGHT) return; // an answer schedules the next commit
      const hasRows = this.#updates.size > 0 || this.#events.length > 0;
      // Nothing to write: waiters wait for the commits in flight (whose answers reschedule), else run now.
      // A flush here would block the event loop until the writer thread caught up (measured: 20 % of it).
      if (!hasRows && (this.#waiters.length === 0 || this.#inFlight > 0)) return;
      try {
        if (!this.#commitInBackground()) this.flush();
      } catch (err) {
        this.#retryLater(err);
      }
    });
  }

  /**
   * The event loop's commit: handed to the store's writer thread when it has
   * one, and the waiters run when the answer comes back. False: no writer.
   */
  #commitInBackground(): boolean {
    if (this.#store.commitTaskChangesInBackground === undefined) return false;
    const updates = [...this.#updates.values()];
    const events = this.#events;
    const waiters = this.#waiters;
    if (updates.length === 0 && events.length === 0) return false;
    const posted = this.#store.commitTaskChangesInBackground({ updates, events }, (err) => {
      this.#inFlight--;
      if (err !== null) {
        this.#keepForRetry(updates, events, waiters, err);
        this.#retryLater(err);
        return;
      }
      this.#healthy = true;
      for (const w of waiters) runSafely(() => w.send(), this.#log);
      if (this.#updates.size > 0 || this.#events.length > 0 || this.#waiters.length > 0) this.#schedule();
    });
    if (!posted) return false;
    this.#inFlight++;
    this.#updates = new Map();
    this.#events = [];
    this.#waiters = [];
    return true;
  }

  #retryLater(err: unknown): void {
    this.#log.error({ err }, 'task changes not persisted; will retry');
    setTimeout(() => this.#schedule(), RETRY_AFTER_FAILURE_MS).unref();
  }
}

/** One failing callback must not cost the others their turn. */
function runSafely(fn: () => void, log: Logger): void {
  try {
    fn();
  } catch (err) {
    log.error({ err }, 'post-commit callback failed');
  }
}
