import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { openStore, STORE_FILE_NAME, type StoreLogger } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';

export interface LogEntry {
  level: 'info' | 'warn';
  obj: object;
  msg: string | undefined;
}

/** A StoreLogger that keeps what it was told, for assertions. */
export function captureLog(): StoreLogger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return {
    entries,
    info: (obj, msg) => void entries.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => void entries.push({ level: 'warn', obj, msg }),
  };
}

const cleanups = new WeakMap<TestContext, Array<() => void>>();

/**
 * Registers cleanup to run last-in first-out (t.after runs hooks in order), so
 * a store closes before its temp dir is removed.
 */
export function defer(t: TestContext, fn: () => void): void {
  let stack = cleanups.get(t);
  if (stack === undefined) {
    const fns: Array<() => void> = [];
    stack = fns;
    cleanups.set(t, fns);
    t.after(() => {
      for (const f of fns.reverse()) f();
    });
  }
  stack.push(fn);
}

export function makeTempDir(t: TestContext, prefix = 'rc-store-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  defer(t, () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens a store in a fresh temp dir and closes it after the test. */
export function setup(t: TestContext, log: StoreLogger = captureLog()): { store: Store; dir: string; file: string } {
  const dir = makeTempDir(t);
  const store = openStore(dir, log);
  defer(t, () => store.close());
  return { store, dir, file: path.join(dir, STORE_FILE_NAME) };
}

/** A raw connection for poking at the file behind the store's back. */
export function openRaw(t: TestContext, file: string): Database.Database {
  const db = new Database(file);
  defer(t, () => db.close());
  return db;
}
