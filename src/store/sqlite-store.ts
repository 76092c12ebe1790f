import Database from 'better-sqlite3';
import { HeartbeatLog, type ChainLink } from './heartbeat-log.js';
import { AUTOCHECKPOINT_PAGES, BackgroundCheckpointer, CHECKPOINT_EVERY_MS } from './checkpointer.js';
import { TaskWriter } from './task-writer.js';
import { CredentialTables } from './credential-tables.js';
import type {
  ActiveTaskPage, DeviceCredential } from './store.js';
import { RcError, StoreError } from '../common/errors.js';
import { parseJsonObject, type JsonObject } from './json-column.js';
import { applyMigrations } from './migrations.js';
import type {
  ActiveStatus,
  DeviceEventRow,
  DeviceProfile,
  DeviceRecord,
  DeviceState,
  FinalStatus,
  HeartbeatRow,
  Store,
  TaskChanges,
  TaskEventRow,
  TaskListFilter,
  TaskRecord,
  TaskStatus,
} from './store.js';
import { toEventArgs, toTaskEvent, toTaskRecord, toUpdateArgs } from './task-rows.js';
import { TaskTables } from './task-tables.js';
import { writeTransaction } from './write-transaction.js';

/** The subset of pino the store uses; a pino Logger (or a child) fits. */
export interface StoreLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface SqliteStoreOptions {
  /** Path of the database file. It must be on a local filesystem (WAL needs shared memory). */
  file: string;
  log?: StoreLogger;
  /** Cap on the database size (PRAGMA max_page_count); writes beyond it fail with SQLITE_FULL. */
  maxSizeBytes?: number | null;
  /** Checkpoint the WAL in a worker thread instead of inside commits (the master; see checkpointer.ts). */
  backgroundCheckpoints?: boolean;
  /** Commit task updates and events in a worker thread (the master; see task-writer.ts). */
  backgroundWrites?: boolean;
}

type StateChange = { device_id: string; state: DeviceState };

interface DeviceDbRow {
  device_id: string;
  profile: string;
  ip_address: string | null;
  state: string;
  first_seen_ms: number;
  last_seen_ms: number;
  registered_at_ms: number;
  last_metrics: string | null;
  drained: number;
}

interface EventDbRow {
  device_id: string;
  ts_ms: number;
  kind: string;
  detail: string;
}

const BUSY_TIMEOUT_MS = 5000;
const DEVICE_STATES: readonly DeviceState[] = ['online', 'suspect', 'offline'];
/** How many unknown device ids a warning lists; the count is always exact. */
const MAX_IDS_IN_WARNING = 10;
const NOOP_LOG: StoreLogger = { info() {}, warn() {} };

const SQL = {
  selectDevices: 'SELECT * FROM devices ORDER BY device_id',
  upsertDevice: `
    INSERT INTO devices (device_id, profile, ip_address, state, first_seen_ms, last_seen_ms, registered_at_ms, last_metrics)
    VALUES (@device_id, @profile, @ip_address, @state, @first_seen_ms, @last_seen_ms, @registered_at_ms, @last_metrics)
    ON CONFLICT (device_id) DO UPDATE SET
      profile = excluded.profile, ip_address = excluded.ip_address, state = excluded.state,
      first_seen_ms = excluded.first_seen_ms, last_seen_ms = excluded.last_seen_ms,
      registered_at_ms = excluded.registered_at_ms, last_metrics = excluded.last_metrics`,
  // A late heartbeat (older than what we hold) never moves last_seen_ms back
  // nor overwrites newer metrics. SET expressions all see the old row.
  touchDevice: `
    UPDATE devices SET
      last_seen_ms = MAX(last_seen_ms, @ts_ms),
      last_metrics = CASE WHEN @ts_ms >= last_seen_ms OR last_metrics IS NULL THEN @metrics ELSE last_metrics END,
      last_heartbeat_id = COALESCE(@head, last_heartbeat_id)
    WHERE device_id = @device_id`,
  insertEvent: `
    INSERT INTO device_events (device_id, ts_ms, kind, detail)
    SELECT @device_id, @ts_ms, @kind, @detail WHERE EXISTS (SELECT 1 FROM devices WHERE device_id = @device_id)`,
  setState: 'UPDATE devices SET state = ? WHERE device_id = ?',
  setDrained: 'UPDATE devices SET drained = ? WHERE device_id = ?',
  recentEvents: `
    SELECT device_id, ts_ms, kind, detail FROM device_events
    WHERE device_id = ? ORDER BY ts_ms DESC, id DESC LIMIT ?`,
  pruneHeartbeats: 'DELETE FROM heartbeats WHERE ts_ms < ?',
  pruneOldestHeartbeats: `
    DELETE FROM heartbeats WHERE id IN (
      SELECT id FROM heartbeats WHERE ts_ms < ? ORDER BY ts_ms LIMIT ?)`,
  quickCheck: 'PRAGMA quick_check',
} as const;

type Queries = ReturnType<typeof prepareQueries>;
type Batches = ReturnType<typeof prepareBatches>;
type AppendResult = { skipped: string[]; heads: Map<string, ChainLink> };

/**
 * SQLite (better-sqlite3) implementation of Store. Synchronous by design: a
 * batch of heartbeats is one short transaction, so there is no interleaving
 * to manage. Every failure leaves as a StoreError whose cause is the original.
 */
export class SqliteStore implements Store {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly log: StoreLogger;
  private readonly q: Queries;
  private readonly batch: Batches;
  private readonly tasks: TaskTables;
  private readonly credentials: CredentialTables;
  private readonly heartbeats: HeartbeatLog;
  private readonly checkpointer: BackgroundCheckpointer | null = null;
  private readonly writer: TaskWriter | null = null;
  private isClosed = false;

  constructor(opts: SqliteStoreOptions) {
    this.file = opts.file;
    this.log = opts.log ?? NOOP_LOG;
    this.db = openDatabase(opts.file, this.log, opts.maxSizeBytes ?? null);
    try {
      this.q = prepareQueries(this.db);
      this.heartbeats = new HeartbeatLog(this.db);
      this.batch = prepareBatches(this.db, this.q, this.heartbeats);
      this.tasks = new TaskTables(this.db);
      this.credentials = new CredentialTables(this.db);
      if (opts.backgroundWrites === true) this.writer = this.startWriter(opts);
      if (opts.backgroundCheckpoints === true && this.writer?.available !== true) {
        this.checkpointer = new BackgroundCheckpointer(this.db, this.log);
        this.checkpointer.start();
      }
    } catch (err) {
      this.db.close();
      throw toStoreError(`preparing statements for ${opts.file}`, err);
    }
  }

  loadDevices(): DeviceRecord[] {
    const rows = this.guard('loading devices', () => this.q.selectDevices.all());
    return rows.map((row) => toDeviceRecord(row, this.log));
  }

  upsertDevice(device: DeviceRecord): void {
    this.guard(`upserting device ${device.device_id}`, () => this.q.upsertDevice.run(toDeviceParams(device)));
  }

  recordHeartbeats(rows: readonly HeartbeatRow[]): void {
    if (rows.length === 0) return;
    const { skipped, heads } = this.guard(`recording ${rows.length} heartbeats`, () => this.batch.heartbeats(rows));
    this.heartbeats.commitHeads(heads);
    this.warnSkipped('heartbeats', skipped);
  }

  appendHeartbeats(rows: readonly HeartbeatRow[]): void {
    if (rows.length === 0) return;
    const { skipped, heads } = this.guard(`appending ${rows.length} heartbeats`, () => this.batch.append(rows));
    this.heartbeats.commitHeads(heads);
    this.warnSkipped('heartbeats', skipped);
  }

  touchDevices(rows: readonly HeartbeatRow[]): void {
    if (rows.length === 0) return;
    const skipped = this.guard(`touching ${rows.length} devices`, () => this.batch.touch(rows));
    this.warnSkipped('devices', skipped);
  }

  recordDeviceEvents(events: readonly DeviceEventRow[]): void {
    if (events.length === 0) return;
    const skipped = this.guard(`recording ${events.length} device events`, () => this.batch.events(events));
    this.warnSkipped('device_events', skipped);
  }

  updateDeviceStates(changes: readonly StateChange[]): void {
    if (changes.length === 0) return;
    const skipped = this.guard(`updating ${changes.length} device states`, () => this.batch.states(changes));
    this.warnSkipped('device_states', skipped);
  }

  setDeviceDrained(deviceId: string, drained: boolean): boolean {
    const op = `${drained ? 'draining' : 'undraining'} device ${deviceId}`;
    return this.guard(op, () => this.q.setDrained.run(drained ? 1 : 0, deviceId).changes > 0);
  }

  recentHeartbeats(deviceId: string, limit: number): HeartbeatRow[] {
    const op = `reading heartbeats of ${deviceId}`;
    const rows = this.guard(op, () => this.heartbeats.recent(deviceId, toLimit(limit)));
    return rows.map((r) => ({
      device_id: r.device_id,
      ts_ms: r.ts_ms,
      metrics: readJsonColumn(r.metrics, { log: this.log, device_id: r.device_id, column: 'heartbeats.metrics' }) ?? {},
    }));
  }

  recentDeviceEvents(deviceId: string, limit: number): DeviceEventRow[] {
    const op = `reading device events of ${deviceId}`;
    const rows = this.guard(op, () => this.q.recentEvents.all(deviceId, toLimit(limit)));
    return rows.map((r) => ({
      device_id: r.device_id,
      ts_ms: r.ts_ms,
      kind: r.kind,
      detail: readJsonColumn(r.detail, { log: this.log, device_id: r.device_id, column: 'device_events.detail' }) ?? {},
    }));
  }

  /**
   * `maxRows` (an addition to Store, optional) deletes at most that many, oldest
   * first, so a caller can prune a large backlog in slices without blocking the
   * event loop for seconds; it loops until the return is below maxRows.
   */
  pruneHeartbeats(olderThanMs: number, maxRows?: number): number {
    return this.guard('pruning heartbeats', () =>
      maxRows === undefined
        ? this.q.pruneHeartbeats.run(olderThanMs).changes
        : this.q.pruneOldestHeartbeats.run(olderThanMs, toLimit(maxRows)).changes,
    );
  }

  /** Inserts, then updates, then events, in ONE transaction; an update of an unknown task is skipped with a warning. */
  commitTaskChanges(changes: TaskChanges): void {
    const counts = [changes.inserts?.length ?? 0, changes.updates?.length ?? 0, changes.events?.length ?? 0] as const;
    if (counts[0] + counts[1] + counts[2] === 0) return;
    const op = `committing task changes (${counts[0]} inserts, ${counts[1]} updates, ${counts[2]} events)`;
    this.warnMissing(this.afterBackgroundCommits(op, () => this.tasks.commit(changes)));
  }

  /**
   * Posts updates and events to the writer thread (the rows are copied now);
   * `done` runs once they are committed, with a StoreError if they are not.
   * False when there is no writer thread: commit with commitTaskChanges then.
   */
  commitTaskChangesInBackground(changes: Pick<TaskChanges, 'updates' | 'events'>, done: (err: StoreError | null) => void): boolean {
    if (this.writer === null || this.isClosed) return false;
    const updates = (changes.updates ?? []).map(toUpdateArgs);
    const events = (changes.events ?? []).map(toEventArgs);
    const op = `committing task changes (${updates.length} updates, ${events.length} events)`;
    return this.writer.commit(updates, events, (err, missing) => {
      if (err !== null) return done(toStoreError(op, err));
      this.warnMissing(missing);
      done(null);
    });
  }

  /** Waits for the writer thread's commits (their callbacks run first). Reads call it, so they see every commit made so far. */
  settleTaskCommits(): void {
    if (this.writer !== null && this.writer.inFlight > 0) this.writer.settle();
  }

  /** The writer thread; with background checkpoints it checkpoints too (one thread, not two). */
  private startWriter(opts: SqliteStoreOptions): TaskWriter {
    const checkpoints = opts.backgroundCheckpoints === true;
    // If the thread dies, the main connection checkpoints by itself again, so the WAL never grows without bound.
    const writer = new TaskWriter(this.log, () => checkpoints && this.db.open && this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`));
    writer.start(opts.file, { busyTimeoutMs: BUSY_TIMEOUT_MS, maxPageCount: pageCap(this.db, opts.maxSizeBytes ?? null), checkpointEveryMs: checkpoints ? CHECKPOINT_EVERY_MS : null });
    if (checkpoints && writer.available) this.db.pragma('wal_autocheckpoint = 0');
    return writer;
  }

  private warnMissing(missing: readonly string[]): void {
    if (missing.length === 0) return;
    const sample = missing.slice(0, MAX_IDS_IN_WARNING);
    this.log.warn({ table: 'tasks', count: missing.length, task_ids: sample }, 'store skipped updates of unknown tasks');
  }

  getTask(taskId: string): TaskRecord | null {
    const row = this.afterBackgroundCommits(`reading task ${taskId}`, () => this.tasks.get(taskId));
    return row === undefined ? null : toTaskRecord(row, this.log);
  }

  findTaskByIdempotencyKey(key: string): TaskRecord | null {
    const row = this.afterBackgroundCommits('finding a task by idempotency key', () => this.tasks.findByIdempotencyKey(key));
    return row === undefined ? null : toTaskRecord(row, this.log);
  }

  /** Newest first; `limit` is clamped to 1..1000; an empty `statuses` matches nothing. */
  listTasks(filter: TaskListFilter): TaskRecord[] {
    const rows = this.afterBackgroundCommits('listing tasks', () => this.tasks.list(filter));
    return rows.map((row) => toTaskRecord(row, this.log));
  }

  loadActiveTasks(page?: ActiveTaskPage): TaskRecord[] {
    const rows = this.afterBackgroundCommits('loading active tasks', () => this.tasks.loadActive(page));
    return rows.map((row) => toTaskRecord(row, this.log));
  }

  lastTaskId(): string | null {
    return this.afterBackgroundCommits('reading the newest task id', () => this.tasks.lastId());
  }

  /** Oldest (first recorded) first. */
  taskEvents(taskId: string, limit: number): TaskEventRow[] {
    const rows = this.afterBackgroundCommits(`reading events of task ${taskId}`, () => this.tasks.events(taskId, toLimit(limit)));
    return rows.map((row) => toTaskEvent(row, this.log));
  }

  /** Scans the whole table (no status index, see migration 2): call it per scrape, not per task. */
  countTasksByStatus(): Record<TaskStatus, number> {
    return this.afterBackgroundCommits('counting tasks by status', () => this.tasks.countByStatus());
  }

  getDeviceCredential(deviceId: string): DeviceCredential | null {
    return this.guard('reading a device credential', () => this.credentials.get(deviceId));
  }

  setDeviceCredential(deviceId: string, secret: string): void {
    this.guard('storing a device credential', () => this.credentials.set(deviceId, secret, Date.now()));
  }

  revokeDevice(deviceId: string): void {
    this.guard('revoking a device', () => this.credentials.revoke(deviceId, Date.now()));
  }

  countActiveTasks(): Record<ActiveStatus, number> {
    return this.afterBackgroundCommits('counting unfinished tasks', () => this.tasks.countActive());
  }

  countFinishedSince(sinceMs: number): Record<FinalStatus, number> {
    return this.afterBackgroundCommits('counting finished tasks', () => this.tasks.countFinishedSince(sinceMs));
  }

  quickCheck(): string {
    const problems = this.guard('running quick_check', () => this.q.quickCheck.all());
    return problems.join('\n');
  }

  /** Idempotent. Runs PRAGMA optimize, then closes (SQLite checkpoints the WAL on close). */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.writer?.stop();
    this.checkpointer?.stop();
    try {
      this.db.pragma('optimize');
    } catch (err) {
      this.log.warn({ err }, 'store optimize failed on close');
    }
    this.guard('closing store', () => this.db.close());
  }

  /**
   * Task-table work that must come after every commit the writer thread holds:
   * reads (they see all that was acknowledged) and main-connection commits (a
   * row is never overwritten by an older version of itself).
   */
  private afterBackgroundCommits<T>(op: string, fn: () => T): T {
    this.settleTaskCommits();
    return this.guard(op, fn);
  }

  private guard<T>(op: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw toStoreError(op, err);
    }
  }

  private warnSkipped(table: string, deviceIds: readonly string[]): void {
    if (deviceIds.length === 0) return;
    const sample = [...new Set(deviceIds)].slice(0, MAX_IDS_IN_WARNING);
    this.log.warn({ table, count: deviceIds.length, device_ids: sample }, 'store skipped rows for unknown devices');
  }
}

/**
 * Wraps anything thrown by SQLite or the filesystem as a StoreError that says
 * what failed, e.g. `recording 120 heartbeats failed: SQLITE_FULL: database or disk is full`.
 */
export function toStoreError(op: string, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  return new StoreError(`${op} failed: ${describeError(err)}`, err);
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code: unknown = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || err.message.startsWith(code)) return err.message;
  return `${code}: ${err.message}`;
}

function openDatabase(file: string, log: StoreLogger, maxSizeBytes: number | null): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    checkIntegrity(db, file);
    configure(db);
    if (maxSizeBytes !== null) capSize(db, maxSizeBytes);
    applyMigrations(db, { log });
    return db;
  } catch (err) {
    db?.close();
    if (isCorruption(err)) throw corruptStore(file, describeError(err));
    throw toStoreError(`opening store ${file}`, err);
  }
}

/** PRAGMA quick_check before anything writes: a damaged file is reported, never built upon. */
function checkIntegrity(db: Database.Database, file: string): void {
  const problems = db.prepare<[], string>(SQL.quickCheck).pluck().all();
  if (problems.length === 1 && problems[0] === 'ok') return;
  const shown = problems.slice(0, 5).join('; ');
  throw corruptStore(file, `quick_check found ${problems.length} problem(s): ${shown}`);
}

function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB';
}

function corruptStore(file: string, what: string): RcError {
  return new RcError(
    'RC_ERR_STORE_CORRUPT',
    `the database ${file} is damaged (${what}). The master will not start on it. ` +
      'Restore the latest backup (README: "Backup and restore"), or move the file (and its -wal/-shm files) away to start with an empty cluster.',
    { status: 503 },
  );
}

function capSize(db: Database.Database, maxSizeBytes: number): void {
  db.pragma(`max_page_count = ${pageCap(db, maxSizeBytes)}`);
}

/** --store-max-size as SQLite's page count (null: no cap). */
function pageCap(db: Database.Database, maxSizeBytes: number | null): number | null {
  if (maxSizeBytes === null) return null;
  const pageSize = Number(db.pragma('page_size', { simple: true }));
  return Math.max(1, Math.floor(maxSizeBytes / pageSize));
}

function configure(db: Database.Database): void {
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (String(mode).toLowerCase() !== 'wal') {
    // Network filesystems and in-memory databases cannot do WAL; we refuse
    // rather than run with a journal whose durability we did not choose.
    throw new StoreError(`journal_mode is '${String(mode)}', expected 'wal' (is ${db.name} on a local filesystem?)`);
  }
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
}

function prepareQueries(db: Database.Database) {
  return {
    selectDevices: db.prepare<[], DeviceDbRow>(SQL.selectDevices),
    upsertDevice: db.prepare<[DeviceParams]>(SQL.upsertDevice),
    touchDevice: db.prepare<[{ device_id: string; ts_ms: number; metrics: string; head: number | null }]>(SQL.touchDevice),
    insertEvent: db.prepare<[{ device_id: string; ts_ms: number; kind: string; detail: string }]>(SQL.insertEvent),
    setState: db.prepare<[DeviceState, string]>(SQL.setState),
    setDrained: db.prepare<[0 | 1, string]>(SQL.setDrained),
    recentEvents: db.prepare<[string, number], EventDbRow>(SQL.recentEvents),
    pruneHeartbeats: db.prepare<[number]>(SQL.pruneHeartbeats),
    pruneOldestHeartbeats: db.prepare<[number, number]>(SQL.pruneOldestHeartbeats),
    quickCheck: db.prepare<[], string>(SQL.quickCheck).pluck(),
  };
}

/** Each batch is one write transaction; each returns the device ids it skipped as unknown. */
function prepareBatches(db: Database.Database, q: Queries, log: HeartbeatLog) {
  const touch = (r: HeartbeatRow, metrics: string, head: number | null): boolean =>
    q.touchDevice.run({ device_id: r.device_id, ts_ms: r.ts_ms, metrics, head }).changes > 0;
  return {
    /** History and the device row at once; the heads are committed by the caller. */
    heartbeats: writeTransaction(db, (rows: readonly HeartbeatRow[]): AppendResult => {
      const skipped: string[] = [];
      const json = rows.map((r) => JSON.stringify(r.metrics));
      const heads = log.insert(rows.map((r, i) => ({ device_id: r.device_id, ts_ms: r.ts_ms, metrics: json[i]! })), skipped);
      const unknown = new Set(skipped);
      for (const [i, r] of rows.entries()) {
        if (!unknown.has(r.device_id)) touch(r, json[i]!, heads.get(r.device_id)?.id ?? null);
      }
      return { skipped, heads };
    }),
    append: writeTransaction(db, (rows: readonly HeartbeatRow[]): AppendResult => {
      const skipped: string[] = [];
      const heads = log.insert(rows.map((r) => ({ device_id: r.device_id, ts_ms: r.ts_ms, metrics: JSON.stringify(r.metrics) })), skipped);
      return { skipped, heads };
    }),
    touch: writeTransaction(db, (rows: readonly HeartbeatRow[]): string[] =>
      rows.filter((r) => !touch(r, JSON.stringify(r.metrics), log.head(r.device_id))).map((r) => r.device_id),
    ),
    events: writeTransaction(db, (events: readonly DeviceEventRow[]): string[] => {
      const params = events.map((e) => ({ device_id: e.device_id, ts_ms: e.ts_ms, kind: e.kind, detail: JSON.stringify(e.detail) }));
      return params.filter((p) => q.insertEvent.run(p).changes === 0).map((p) => p.device_id);
    }),
    states: writeTransaction(db, (changes: readonly StateChange[]): string[] =>
      changes.filter((c) => q.setState.run(c.state, c.device_id).changes === 0).map((c) => c.device_id),
    ),
  };
}

/** `drained` is left out: the upsert never changes it (see migration 3). */
type DeviceParams = Omit<DeviceDbRow, 'state' | 'drained'> & { state: DeviceState };

function toDeviceParams(d: DeviceRecord): DeviceParams {
  return {
    device_id: d.device_id,
    profile: JSON.stringify(d.profile),
    ip_address: d.ip_address,
    state: d.state,
    first_seen_ms: d.first_seen_ms,
    last_seen_ms: d.last_seen_ms,
    registered_at_ms: d.registered_at_ms,
    last_metrics: d.last_metrics === null ? null : JSON.stringify(d.last_metrics),
  };
}

function toDeviceRecord(row: DeviceDbRow, log: StoreLogger): DeviceRecord {
  const where = { log, device_id: row.device_id };
  return {
    device_id: row.device_id,
    profile: toProfile(readJsonColumn(row.profile, { ...where, column: 'devices.profile' })),
    ip_address: row.ip_address,
    state: toDeviceState(row.state, log, row.device_id),
    first_seen_ms: row.first_seen_ms,
    last_seen_ms: row.last_seen_ms,
    registered_at_ms: row.registered_at_ms,
    last_metrics: row.last_metrics === null ? null : (readJsonColumn(row.last_metrics, { ...where, column: 'devices.last_metrics' }) ?? null),
    // Only when set, so a record of an undrained device reads as it did before migration 3.
    ...(row.drained === 1 ? { drained: true } : {}),
  };
}

/**
 * The fallback for an unreadable profile. max_tasks 0 keeps the scheduler off
 * the device until it registers again and sends a real profile.
 */
function minimalProfile(): DeviceProfile {
  return {
    hostname: null, role: 'worker', tags: [], platform: null, arch: null,
    cpu_count: null, cpu_model: null, memory_total_gb: null, storage_total_gb: null,
    gpu: null, max_tasks: 0, task_types: [], node_version: null, protocol_version: null, extra: {},
  };
}

/** Stored keys override the defaults, so rows from an older schema gain any newer field. */
function toProfile(stored: JsonObject | undefined): DeviceProfile {
  // The column is only written from a typed DeviceProfile; trusting its shape is deliberate.
  return stored === undefined ? minimalProfile() : ({ ...minimalProfile(), ...stored } as DeviceProfile);
}

function toDeviceState(value: string, log: StoreLogger, deviceId: string): DeviceState {
  const state = DEVICE_STATES.find((s) => s === value);
  if (state !== undefined) return state;
  log.warn({ device_id: deviceId, state: value }, 'store row has an unknown state; using offline');
  return 'offline';
}

/** Parses a JSON object column; on corrupt text it warns and returns undefined. */
function readJsonColumn(
  text: string,
  where: { log: StoreLogger; device_id: string; column: string },
): JsonObject | undefined {
  const value = parseJsonObject(text);
  if (value === undefined) {
    where.log.warn({ device_id: where.device_id, column: where.column }, 'store row has corrupt JSON; using a fallback');
  }
  return value;
}

/** SQLite treats a negative LIMIT as "no limit" and rejects fractions. */
function toLimit(limit: number): number {
  return Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : 0;
}
