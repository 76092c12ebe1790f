import type { Logger } from '../../common/logger.js';
import type { TaskEventRow, TaskRecord, TaskStore } from '../../store/store.js';

/**
 * Group commit: every task change made while handling one batch of socket
 * reads is written in ONE transaction on the next turn of the event loop,
 * and only then are the messages that depend on it (result acks,
 * assignments) sent. One transaction per message would cap throughput at
 * the disk's commit rate; this keeps "persisted before acknowledged".
 */
export class CommitBuffer {
  readonly #store: TaskStore;
  readonly #log: Logger;
  #updates = new Map<string, TaskRecord>();
  #events: TaskEventRow[] = [];
  #afterCommit: Array<() => void> = [];
  #onFailure: Array<(err: unknown) => void> = [];
  #scheduled = false;

  constructor(store: TaskStore, log: Logger) {
    this.#store = store;
    this.#log = log;
  }

  get pending(): number {
    return this.#updates.size + this.#events.length;
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

  /** Run `send` once the current changes are durable; `fail` if the commit fails. */
  then(send: () => void, fail?: (err: unknown) => void): void {
    this.#afterCommit.push(send);
    if (fail) this.#onFailure.push(fail);
    this.#schedule();
  }

  /** Commit now (HTTP writes answer only after this). Throws the store's error. */
  flush(): void {
    const updates = [...this.#updates.values()];
    const events = this.#events;
    const after = this.#afterCommit;
    const failures = this.#onFailure;
    this.#updates = new Map();
    this.#events = [];
    this.#afterCommit = [];
    this.#onFailure = [];
    try {
      if (updates.length > 0 || events.length > 0) this.#store.commitTaskChanges({ updates, events });
    } catch (err) {
      // Keep the rows for the next commit: memory stays the truth, the disk catches up.
      for (const t of updates) if (!this.#updates.has(t.task_id)) this.#updates.set(t.task_id, t);
      this.#events = events.concat(this.#events);
      for (const fail of failures) fail(err);
      throw err;
    }
    for (const send of after) send();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      try {
        this.flush();
      } catch (err) {
        this.#log.error({ err }, 'task changes not persisted; will retry');
        setTimeout(() => this.#schedule(), 1000).unref();
      }
    });
  }
}
