/**
 * Runs in a worker thread (see task-writer.ts): its own connection to the
 * master's database, committing the task updates and events the event loop
 * posts, one transaction per message, in the order posted, and (when asked)
 * checkpointing the WAL as checkpoint-thread.ts does. After each
 * commit it answers on the reply port and bumps the shared counter, so the
 * main thread can also wait for it synchronously (Atomics.wait).
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { startPassiveCheckpoints } from './passive-checkpoints.js';
import { applyTaskRows, TASK_SQL, type TaskRowStatements } from './task-tables.js';
import { writeTransaction } from './write-transaction.js';
import type { TaskEventArgs, TaskUpdateArgs } from './task-rows.js';

export interface WriterThreadInput {
  file: string;
  busyTimeoutMs: number;
  maxPageCount: number | null;
  /** Int32Array over it: [0] = seq of the last commit answered. */
  signal: SharedArrayBuffer;
  replies: MessagePort;
  /** Also checkpoint the WAL (PASSIVE) this often, for the main connection (which then never does); null: no. */
  checkpointEveryMs: number | null;
}

/** What the thread tells the main thread besides commit answers (on parentPort). */
export interface WriterNotice {
  checkpointError: string;
}

export interface WriteRequest {
  seq: number;
  updates: TaskUpdateArgs[];
  events: TaskEventArgs[];
}

export type WriteReply = { seq: number; missing: string[] } | { seq: number; error: { message: string; code: string | null } };

const input = workerData as WriterThreadInput;
const signal = new Int32Array(input.signal);
const db = new Database(input.file, { fileMustExist: true, timeout: input.busyTimeoutMs });
db.pragma('synchronous = NORMAL');
// The size cap is per connection; without it here the writer would ignore --store-max-size.
if (input.maxPageCount !== null) db.pragma(`max_page_count = ${input.maxPageCount}`);
const statements: TaskRowStatements = { update: db.prepare<TaskUpdateArgs>(TASK_SQL.update), insertEvent: db.prepare<TaskEventArgs>(TASK_SQL.insertEvent) };
const commit = writeTransaction(db, (req: WriteRequest): string[] => applyTaskRows(statements, req.updates, req.events));

function answer(reply: WriteReply): void {
  input.replies.postMessage(reply);
  Atomics.store(signal, 0, reply.seq);
  Atomics.notify(signal, 0);
}

// One thread for both jobs: each worker thread costs the master ~9 MB of RSS (measured).
const notify = (checkpointError: string): void => parentPort?.postMessage({ checkpointError } satisfies WriterNotice);
const stopCheckpoints = input.checkpointEveryMs === null ? null : startPassiveCheckpoints(db, input.checkpointEveryMs, notify);

parentPort?.on('message', (msg: WriteRequest | 'stop') => {
  if (msg === 'stop') {
    stopCheckpoints?.();
    db.close();
    input.replies.close();
    parentPort?.close();
    return;
  }
  try {
    answer({ seq: msg.seq, missing: commit(msg) });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    answer({ seq: msg.seq, error: { message: err instanceof Error ? err.message : String(err), code: typeof code === 'string' ? code : null } });
  }
});
