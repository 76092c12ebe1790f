import type Database from 'better-sqlite3';
import { StoreError } from '../common/errors.js';

/** One schema step. `up` is plain SQL and runs inside its own transaction. */
export interface Migration {
  version: number;
  name: string;
  up: string;
}

/** Only what migrations need from a logger; pino's Logger fits. */
export interface MigrationLogger {
  info(obj: object, msg?: string): void;
}

/**
 * Ordered, append-only. Never edit a released step: add a new one.
 * Heartbeats and events reference devices with ON DELETE CASCADE, so the
 * device upsert must stay an ON CONFLICT update, never INSERT OR REPLACE
 * (REPLACE deletes the row and would cascade away its history).
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'devices, heartbeats, device_events',
    up: `
      CREATE TABLE devices (
        device_id        TEXT PRIMARY KEY NOT NULL,
        profile          TEXT NOT NULL,
        ip_address       TEXT,
        state            TEXT NOT NULL CHECK (state IN ('online', 'suspect', 'offline')),
        first_seen_ms    INTEGER NOT NULL,
        last_seen_ms     INTEGER NOT NULL,
        registered_at_ms INTEGER NOT NULL,
        last_metrics     TEXT
      );
      CREATE TABLE heartbeats (
        id        INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
        ts_ms     INTEGER NOT NULL,
        metrics   TEXT NOT NULL
      );
      CREATE INDEX heartbeats_device_ts ON heartbeats (device_id, ts_ms);
      CREATE INDEX heartbeats_ts ON heartbeats (ts_ms);
      CREATE TABLE device_events (
        id        INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
        ts_ms     INTEGER NOT NULL,
        kind      TEXT NOT NULL,
        detail    TEXT NOT NULL
      );
      CREATE INDEX device_events_device_ts ON device_events (device_id, ts_ms);
    `,
  },
  {
    version: 2,
    name: 'tasks, task_events',
    // Small, often-read columns come first and the large JSON ones last, so a
    // scan reading status never follows a big result's overflow pages.
    // An ordinary rowid table, not WITHOUT ROWID: with time-ordered ids both
    // write equally fast, but WITHOUT ROWID rows spill to overflow pages from
    // ~1 KB, which doubled the pages written when results carry output.
    // No index on status (every update would move an entry): the partial
    // index covers only the unfinished tasks, the set rebuilt at startup;
    // its condition must stay textually identical in queries that use it.
    // Conditions are OR chains, not IN lists: SQLite builds a temporary
    // lookup table for each evaluation of a constant IN list, and CHECKs and
    // partial-index conditions run on every write; the OR form measured ~30%
    // more tasks/s (1 insert + 2 updates).
    // No foreign keys: a task may name a device that never registered (a pin),
    // and events of a task must never fail a scheduling step's transaction.
    up: `
      CREATE TABLE tasks (
        task_id         TEXT PRIMARY KEY NOT NULL,
        status          TEXT NOT NULL
          CHECK (status = 'queued' OR status = 'assigned' OR status = 'running' OR status = 'succeeded'
            OR status = 'failed' OR status = 'timed_out' OR status = 'cancelled'),
        priority        TEXT NOT NULL
          CHECK (priority = 'low' OR priority = 'normal' OR priority = 'high' OR priority = 'urgent'),
        task_type       TEXT NOT NULL,
        device_id       TEXT,
        attempts        INTEGER NOT NULL,
        retries         INTEGER NOT NULL,
        timeout_s       REAL NOT NULL,
        max_retries     INTEGER NOT NULL,
        created_at_ms   INTEGER NOT NULL,
        assigned_at_ms  INTEGER,
        started_at_ms   INTEGER,
        finished_at_ms  INTEGER,
        not_before_ms   INTEGER,
        wait_reason     TEXT,
        idempotency_key TEXT,
        labels          TEXT NOT NULL,
        requirements    TEXT NOT NULL,
        payload         TEXT NOT NULL,
        result          TEXT
      );
      CREATE UNIQUE INDEX tasks_idempotency_key ON tasks (idempotency_key) WHERE idempotency_key IS NOT NULL;
      CREATE INDEX tasks_active ON tasks (task_id) WHERE status = 'queued' OR status = 'assigned' OR status = 'running';
      CREATE INDEX tasks_device ON tasks (device_id, task_id) WHERE device_id IS NOT NULL;
      CREATE TABLE task_events (
        id        INTEGER PRIMARY KEY,
        task_id   TEXT NOT NULL,
        ts_ms     INTEGER NOT NULL,
        kind      TEXT NOT NULL,
        attempt   INTEGER,
        device_id TEXT,
        detail    TEXT NOT NULL
      );
      CREATE INDEX task_events_task ON task_events (task_id, id);
    `,
  },
  {
    version: 3,
    name: 'devices.drained',
    // Written only by setDeviceDrained, never by the device upsert, so a
    // device that registers again stays drained.
    up: `
      ALTER TABLE devices ADD COLUMN drained INTEGER NOT NULL DEFAULT 0 CHECK (drained = 0 OR drained = 1);
    `,
  },
  {
    version: 4,
    name: 'tasks_finished index',
    // For "finished in the last hour" without a scan of every task. Partial:
    // unfinished tasks (every assign/start update) never touch it, and a
    // task enters it once, when it finishes. It holds status, so the count
    // reads the index alone. A range on finished_at_ms implies the
    // condition, so SQLite uses it for `finished_at_ms >= ?`.
    up: `
      CREATE INDEX tasks_finished ON tasks (finished_at_ms, status) WHERE finished_at_ms IS NOT NULL;
    `,
  },
  {
    version: 5,
    name: 'device_credentials',
    // Per-device secrets (PROTOCOL §4.8). The secret itself is kept, not a hash:
    // the master must compute the HMAC a register proves. The data dir is 0700.
    up: `
      CREATE TABLE device_credentials (
        device_id     TEXT PRIMARY KEY,
        secret        TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        revoked_at_ms INTEGER
      );
    `,
  },
  {
    version: 6,
    name: 'heartbeat chains instead of the per-device index',
    // The (device_id, ts_ms) index put every heartbeat into one of N "hot"
    // leaf pages, one per device: with 10,000 devices each insert dirtied its
    // own page, about 24 µs of the master's 30 µs per stored heartbeat. Now the
    // table is append-only and each row points to the same device's previous
    // row (prev_id); a device's recent history is a walk from its newest row
    // (devices.last_heartbeat_id, written with last_seen, plus the rows after
    // the newest stored head, found at startup).
    up: `
      ALTER TABLE heartbeats ADD COLUMN prev_id INTEGER;
      ALTER TABLE devices ADD COLUMN last_heartbeat_id INTEGER;
      WITH chained AS (SELECT id, lag(id) OVER (PARTITION BY device_id ORDER BY ts_ms, id) AS prev FROM heartbeats)
        UPDATE heartbeats SET prev_id = chained.prev FROM chained WHERE heartbeats.id = chained.id;
      UPDATE devices SET last_heartbeat_id = (
        SELECT id FROM heartbeats WHERE heartbeats.device_id = devices.device_id ORDER BY ts_ms DESC, id DESC LIMIT 1);
      DROP INDEX heartbeats_device_ts;
    `,
  },
];

const CREATE_MIGRATIONS_TABLE = `
  CREATE TABLE IF NOT EXISTS schema_migrations (
    version       INTEGER PRIMARY KEY,
    name          TEXT,
    applied_at_ms INTEGER
  )`;

export interface ApplyMigrationsOptions {
  log?: MigrationLogger;
  /** Defaults to MIGRATIONS; tests pass their own list. */
  migrations?: readonly Migration[];
  now?: () => number;
}

/**
 * Brings the schema up to the newest known version, one transaction per step.
 * Idempotent. Refuses a database written by a newer build rather than guess
 * at a schema it does not know. Returns the resulting schema version.
 */
export function applyMigrations(db: Database.Database, opts: ApplyMigrationsOptions = {}): number {
  const migrations = opts.migrations ?? MIGRATIONS;
  assertOrdered(migrations);
  db.exec(CREATE_MIGRATIONS_TABLE);
  const latest = migrations.at(-1)?.version ?? 0;
  assertNotNewer(readSchemaVersion(db), latest, db.name);
  for (const m of migrations) applyOne(db, m, opts);
  return readSchemaVersion(db);
}

/** Highest applied version, 0 for a fresh database. */
export function readSchemaVersion(db: Database.Database): number {
  const row = db.prepare<[], { v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations').get();
  return row?.v ?? 0;
}

function applyOne(db: Database.Database, m: Migration, opts: ApplyMigrationsOptions): void {
  const isApplied = db.prepare<[number], { version: number }>('SELECT version FROM schema_migrations WHERE version = ?');
  const stamp = db.prepare<[number, string, number]>(
    'INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)',
  );
  // IMMEDIATE takes the write lock before the check, so two processes opening
  // the same file cannot both apply a step.
  const didApply = db
    .transaction((): boolean => {
      if (isApplied.get(m.version) !== undefined) return false;
      db.exec(m.up);
      stamp.run(m.version, m.name, (opts.now ?? Date.now)());
      return true;
    })
    .immediate();
  if (didApply) opts.log?.info({ version: m.version, name: m.name }, 'store migration applied');
}

function assertNotNewer(current: number, latest: number, file: string): void {
  if (current <= latest) return;
  throw new StoreError(
    `database ${file} is at schema version ${current} but this build only knows up to ${latest}; ` +
      'refusing to use it (upgrade retire-cluster or use another data dir)',
  );
}

function assertOrdered(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    const prev = i === 0 ? 0 : (migrations[i - 1]?.version ?? 0);
    if (!Number.isInteger(m.version) || m.version <= prev) {
      throw new StoreError(`migration list is not strictly increasing at version ${m.version} (${m.name})`);
    }
  });
}
