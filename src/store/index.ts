import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { SqliteStore, toStoreError, type StoreLogger } from './sqlite-store.js';
import type { Store } from './store.js';

export type * from './store.js';
export { SqliteStore, type SqliteStoreOptions, type StoreLogger } from './sqlite-store.js';
export { MIGRATIONS, type Migration } from './migrations.js';
export { backupDatabase, type BackupProgress, type BackupSummary } from './backup.js';

/** The database file's name inside the data dir. */
export const STORE_FILE_NAME = 'retire-cluster.db';

/**
 * Creates `dataDir` if needed and opens (migrating if needed)
 * `<dataDir>/retire-cluster.db`. The dir is made private (0700): the database
 * holds every device's secret, and the dir the join and API tokens.
 */
export function openStore(dataDir: string, log?: StoreLogger, opts: { maxSizeBytes?: number | null; backgroundCheckpoints?: boolean; backgroundWrites?: boolean } = {}): Store {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    chmodSync(dataDir, 0o700);
  } catch (err) {
    throw toStoreError(`creating data dir ${dataDir}`, err);
  }
  return new SqliteStore({ file: path.join(dataDir, STORE_FILE_NAME), log, maxSizeBytes: opts.maxSizeBytes ?? null, backgroundCheckpoints: opts.backgroundCheckpoints ?? false, backgroundWrites: opts.backgroundWrites ?? false });
}
