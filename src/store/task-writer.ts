import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { TaskEventArgs, TaskUpdateArgs } from './task-rows.js';
import type { WriteReply, WriteRequest, WriterNotice, WriterThreadInput } from './task-writer-thread.js';

export interface TaskWriterLogger {
  warn(obj: object, msg?: string): void;
}

/** What a background commit reports: null, or the error (with SQLite's code when there is one). */
export type WriteDone = (err: Error | null, missing: readonly string[]) => void;

/** A settle that waits longer than this means the thread is wedged: give up loudly rather than hang. */
const SETTLE_LIMIT_MS = 30_000;
const WAIT_SLICE_MS = 50;

/**
 * Commits task updates and events in a worker thread with its own
 * connection, so the event loop keeps answering workers while SQLite writes
 * (measured: the commits were ~20 % of the master's CPU at full load, on the
 * one core that does everything else). Requests are committed in the order
 * posted; `settle()` waits synchronously for all of them, for callers that
 * must read or write after them (sync flushes, reads, shutdown).
 *
 * If the thread cannot start or dies, `available` turns false, what was in
 * flight is failed (the caller keeps and retries it), and the caller commits
 * on the main connection again.
 */
export class TaskWriter {
  readonly #log: TaskWriterLogger;
  /** Called once if the thread stops being available (the caller resumes checkpoints on its own connection). */
  readonly #onUnavailable: () => void;
  readonly #signal = new Int32Array(new SharedArrayBuffer(4));
  readonly #pending = new Map<number, WriteDone>();
  #worker: Worker | null = null;
  #replies: MessagePort | null = null;
  #seq = 0;

  constructor(log: TaskWriterLogger, onUnavailable: () => void = () => undefined) {
    this.#log = log;
    this.#onUnavailable = onUnavailable;
  }

  get available(): boolean {
    return this.#worker !== null;
  }

  start(file: string, opts: { busyTimeoutMs: number; maxPageCount: number | null; checkpointEveryMs: number | null }): void {
    try {
      const { port1, port2 } = new MessageChannel();
      const workerData: WriterThreadInput = { file, busyTimeoutMs: opts.busyTimeoutMs, maxPageCount: opts.maxPageCount, signal: this.#signal.buffer as SharedArrayBuffer, replies: port2, checkpointEveryMs: opts.checkpointEveryMs };
      const worker = new Worker(new URL('./task-writer-thread.js', import.meta.url), { workerData, transferList: [port2] });
      worker.unref();
      port1.unref();
      port1.on('message', (reply: WriteReply) => this.#onReply(reply));
      worker.on('message', (notice: WriterNotice) => this.#log.warn({ error: notice.checkpointError }, 'background WAL checkpoint failed; will try again'));
      worker.on('error', (err) => this.#fail(err));
      worker.on('exit', (code) => this.#worker === worker && this.#fail(new Error(`task writer thread exited with code ${code}`)));
      this.#worker = worker;
      this.#replies = port1;
    } catch (err) {
      this.#fail(err);
    }
  }

  /** Posts one transaction; `done` runs once it is committed (or failed). False when the thread is not available. */
  commit(updates: TaskUpdateArgs[], events: TaskEventArgs[], done: WriteDone): boolean {
    if (this.#worker === null) return false;
    const seq = ++this.#seq;
    this.#pending.set(seq, done);
    const req: WriteRequest = { seq, updates, events };
    this.#worker.postMessage(req);
    return true;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  /** Blocks until every posted commit has been answered, running their callbacks. */
  settle(): void {
    const deadline = Date.now() + SETTLE_LIMIT_MS;
    while (this.#pending.size > 0 && this.#replies !== null) {
      const received = receiveMessageOnPort(this.#replies);
      if (received !== undefined) {
        this.#onReply(received.message as WriteReply);
        continue;
      }
      if (Date.now() > deadline) {
        this.#fail(new Error(`task writer thread did not answer within ${SETTLE_LIMIT_MS} ms`));
        break;
      }
      // The thread posts its reply before it bumps the counter, so after a wake-up the reply is there to receive.
      Atomics.wait(this.#signal, 0, Atomics.load(this.#signal, 0), WAIT_SLICE_MS);
    }
  }

  /** Settles, then stops the thread (before the main connection closes). */
  stop(): void {
    this.settle();
    const worker = this.#worker;
    this.#worker = null;
    worker?.postMessage('stop');
    this.#replies?.close();
    this.#replies = null;
  }

  #onReply(reply: WriteReply): void {
    const done = this.#pending.get(reply.seq);
    if (done === undefined) return;
    this.#pending.delete(reply.seq);
    if ('error' in reply) done(Object.assign(new Error(reply.error.message), { code: reply.error.code ?? undefined }), []);
    else done(null, reply.missing);
  }

  #fail(err: unknown): void {
    const wasRunning = this.#worker !== null;
    if (wasRunning) this.#onUnavailable();
    this.#worker = null;
    this.#replies?.close();
    this.#replies = null;
    const error = err instanceof Error ? err : new Error(String(err));
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const done of pending) done(error, []);
    if (wasRunning || pending.length > 0) this.#log.warn({ err: error }, 'task writer thread unavailable; task changes are committed on the main connection');
    else this.#log.warn({ err: error }, 'task writer thread could not start; task changes are committed on the main connection');
  }
}
