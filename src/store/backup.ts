import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { RcError } from '../common/errors.js';

export interface BackupProgress {
  totalPages: number;
  remainingPages: number;
}

export interface BackupSummary {
  file: string;
  bytes: number;
  tasks: number;
  devices: number;
}

/** Pages copied per step: big enough to be quick, small enough to show progress. */
const MIN_STEP_PAGES = 1024;

/**
 * An online, consistent copy of the master's database with SQLite's backup
 * API, while the master keeps writing (WAL lets this reader run beside it).
 * SQLite restarts a backup whose source another connection changed between
 * steps; if that happens we copy the rest in one step, which holds one read
 * snapshot and so always finishes. The copy is checked with quick_check.
 */
export async function backupDatabase(source: string, target: string, opts: { force: boolean; onProgress?: (p: BackupProgress) => void }): Promise<BackupSummary> {
  if (!existsSync(source)) throw new RcError('RC_ERR_NOT_FOUND', `no database at ${source} (is --data-dir the master's data dir?)`);
  if (existsSync(target) && !opts.force) throw new RcError('RC_ERR_HTTP_BAD_REQUEST', `${target} already exists; pass --force to overwrite it`, { status: 400 });
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    let lastRemaining = Number.POSITIVE_INFINITY;
    await db.backup(target, {
      progress: (p) => {
        opts.onProgress?.(p);
        const restarted = p.remainingPages > lastRemaining;
        lastRemaining = p.remainingPages;
        return restarted ? 0 : Math.max(MIN_STEP_PAGES, Math.ceil(p.totalPages / 20));
      },
    });
  } finally {
    db.close();
  }
  return verifyCopy(target);
}

function verifyCopy(file: string): BackupSummary {
  const copy = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const check = copy.prepare<[], string>('PRAGMA quick_check').pluck().all();
    if (check.length !== 1 || check[0] !== 'ok') throw new RcError('RC_ERR_STORE_CORRUPT', `the copy ${file} failed quick_check: ${check.slice(0, 5).join('; ')}`);
    const count = (table: string): number => Number(copy.prepare(`SELECT count(*) FROM ${table}`).pluck().get());
    const pages = Number(copy.pragma('page_count', { simple: true }));
    const pageSize = Number(copy.pragma('page_size', { simple: true }));
    return { file, bytes: pages * pageSize, tasks: count('tasks'), devices: count('devices') };
  } finally {
    copy.close();
  }
}
