import type Database from 'better-sqlite3';

/**
 * `fn` as a transaction that takes SQLite's write lock at BEGIN (IMMEDIATE),
 * waiting for it under busy_timeout. The master writes from two connections
 * (the event loop's and the task writer thread's): a deferred transaction
 * that read before it wrote could fail with SQLITE_BUSY instead of waiting.
 */
export function writeTransaction<A extends unknown[], R>(db: Database.Database, fn: (...args: A) => R): (...args: A) => R {
  const tx = db.transaction(fn);
  return (...args: A): R => tx.immediate(...args) as R;
}
