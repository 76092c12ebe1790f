import type Database from 'better-sqlite3';

/**
 * Checkpoints `db`'s WAL every `everyMs`, PASSIVE: it copies what it can and
 * never waits for, or blocks, the master's reads and writes. Run by a
 * background thread's own connection (checkpoint-thread.ts, or the task
 * writer thread). Returns the function that stops it.
 */
export function startPassiveCheckpoints(db: Database.Database, everyMs: number, onError: (message: string) => void): () => void {
  const timer = setInterval(() => {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch (err) {
      onError(err instanceof Error ? err.message : String(err));
    }
  }, everyMs);
  return () => clearInterval(timer);
}
