/**
 * Runs in a worker thread (see checkpointer.ts): its own connection to the
 * master's database, checkpointing the WAL every `intervalMs`. A checkpoint
 * copies pages into the database file and fsyncs it, 10–30 ms on a small
 * board's disk; here it never stalls the event loop that answers workers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

interface ThreadInput {
  file: string;
  intervalMs: number;
}

const { file, intervalMs } = workerData as ThreadInput;
const db = new Database(file, { fileMustExist: true });
db.pragma('synchronous = NORMAL');

function checkpoint(): void {
  try {
    // PASSIVE: copies what it can and never waits for, or blocks, the master's reads and writes.
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort?.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
}

const timer = setInterval(checkpoint, intervalMs);
parentPort?.on('message', (msg: unknown) => {
  if (msg !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
