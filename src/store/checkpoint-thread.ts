/**
 * Runs in a worker thread (see checkpointer.ts): its own connection to the
 * master's database, checkpointing the WAL every `intervalMs`. A checkpoint
 * copies pages into the database file and fsyncs it, 10–30 ms on a small
 * board's disk; here it never stalls the event loop that answers workers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { startPassiveCheckpoints } from './passive-checkpoints.js';

interface ThreadInput {
  file: string;
  intervalMs: number;
}

const { file, intervalMs } = workerData as ThreadInput;
const db = new Database(file, { fileMustExist: true });
db.pragma('synchronous = NORMAL');

const stopCheckpoints = startPassiveCheckpoints(db, intervalMs, (error) => parentPort?.postMessage({ error }));
parentPort?.on('message', (msg: unknown) => {
  if (msg !== 'stop') return;
  stopCheckpoints();
  db.close();
  parentPort?.close();
});
