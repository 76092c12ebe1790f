import type Database from 'better-sqlite3';
import { StoreError } from '../common/errors.js';
import {
  ACTIVE_STATUSES,
  FINAL_STATUSES,
  TASK_STATUSES,
  type ActiveStatus,
  type ActiveTaskPage,
  type FinalStatus,
  type TaskChanges,
  type TaskListFilter,
  type TaskRecord,
  type TaskStatus,
} from './store.js';
import {
  TASK_COLUMNS,
  UPDATE_COLUMNS,
  toEventArgs,
  toInsertArgs,
  toUpdateArgs,
  type TaskDbRow,
  type TaskEventArgs,
  type TaskEventDbRow,
  type TaskInsertArgs,
  type TaskUpdateArgs,
} from './task-rows.js';
import { writeTransaction } from './write-transaction.js';

/** The two statements a task commit runs, prepared on whichever connection commits (the event loop's or the writer thread's). */
export interface TaskRowStatements {
  update: Database.Statement<TaskUpdateArgs>;
  insertEvent: Database.Statement<TaskEventArgs>;
}

/** Runs the updates and events (inside the caller's transaction); returns the ids of updates that matched no row. */
export function applyTaskRows(stmts: TaskRowStatements, updates: readonly TaskUpdateArgs[], events: readonly TaskEventArgs[]): string[] {
  const missing: string[] = [];
  for (const args of updates) if (stmts.update.run(...args).changes === 0) missing.push(args[12]); // task_id, after the 12 UPDATE_COLUMNS
  for (const args of events) stmts.insertEvent.run(...args);
  return missing;
}

/** listTasks returns at most this many rows per page. */
export const MAX_TASK_PAGE = 1000;

/**
 * The same expression as the WHERE of the partial index tasks_active
 * (migration 2). SQLite uses a partial index only when the query's WHERE
 * provably implies that condition; `status IN (?, ?)` never does, so
 * queries over unfinished tasks add this term. A test checks the plans.
 */
const ACTIVE_CONDITION = "(status = 'queued' OR status = 'assigned' OR status = 'running')";
const COLUMNS = TASK_COLUMNS.join(', ');

/** Exported for the query-plan test only. */
export const TASK_SQL = {
  insert: `INSERT INTO tasks (${COLUMNS}) VALUES (${TASK_COLUMNS.map(() => '?').join(', ')})`,
  update: `UPDATE tasks SET ${UPDATE_COLUMNS.map((c) => `${c} = ?`).join(', ')} WHERE task_id = ?`,
  insertEvent: 'INSERT INTO task_events (task_id, ts_ms, kind, attempt, device_id, detail) VALUES (?, ?, ?, ?, ?, ?)',
  get: `SELECT ${COLUMNS} FROM tasks WHERE task_id = ?`,
  byIdempotencyKey: `SELECT ${COLUMNS} FROM tasks WHERE idempotency_key = ?`,
  active: `SELECT ${COLUMNS} FROM tasks WHERE ${ACTIVE_CONDITION} ORDER BY task_id`,
  activePage: `SELECT ${COLUMNS} FROM tasks WHERE ${ACTIVE_CONDITION} AND task_id > ? AND task_id <= ? ORDER BY task_id LIMIT ?`,
  lastId: 'SELECT max(task_id) FROM tasks',
  events: `
    SELECT task_id, ts_ms, kind, attempt, device_id, detail FROM task_events
    WHERE task_id = ? ORDER BY id LIMIT ?`,
  countByStatus: 'SELECT status, COUNT(*) AS n FROM tasks GROUP BY status',
  countActive: `SELECT status, COUNT(*) AS n FROM tasks WHERE ${ACTIVE_CONDITION} GROUP BY status`,
  countFinishedSince: 'SELECT status, COUNT(*) AS n FROM tasks WHERE finished_at_ms >= ? GROUP BY status',
} as const;

type ListArg = string | number;
type ListStatement = Database.Statement<ListArg[], TaskDbRow>;

/** What decides the text of a listTasks query; one prepared statement per distinct shape. */
export interface ListShape {
  statusCount: number;
  isActiveOnly: boolean;
  hasDevice: boolean;
  hasType: boolean;
  hasBefore: boolean;
}

/**
 * The SQL side of the TaskStore: prepared statements over `tasks` and
 * `task_events`, returning raw rows. SqliteStore wraps errors and maps rows.
 */
export class TaskTables {
  private readonly db: Database.Database;
  private readonly q: ReturnType<typeof prepareTaskQueries>;
  private readonly commitTx: (changes: TaskChanges) => string[];
  /** At most 2^4 × 8 shapes, so the cache needs no eviction. */
  private readonly listStatements = new Map<string, ListStatement>();

  constructor(db: Database.Database) {
    this.db = db;
    this.q = prepareTaskQueries(db);
    this.commitTx = writeTransaction(db, (changes: TaskChanges) => this.applyChanges(changes));
  }

  /** One transaction; returns the ids of updates that matched no row. */
  commit(changes: TaskChanges): string[] {
    return this.commitTx(changes);
  }

  get(taskId: string): TaskDbRow | undefined {
    return this.q.get.get(taskId);
  }

  findByIdempotencyKey(key: string): TaskDbRow | undefined {
    return this.q.byIdempotencyKey.get(key);
  }

  list(filter: TaskListFilter): TaskDbRow[] {
    const statuses = filter.statuses === undefined ? undefined : knownStatuses(filter.statuses);
    // IN () matches nothing; so does a status the CHECK constraint keeps out of the table.
    if (statuses !== undefined && statuses.length === 0) return [];
    const shape: ListShape = {
      statusCount: statuses?.length ?? 0,
      isActiveOnly: statuses !== undefined && statuses.every((s) => ACTIVE_STATUSES.includes(s)),
      hasDevice: filter.device_id !== undefined,
      hasType: filter.task_type !== undefined,
      hasBefore: filter.before !== undefined,
    };
    const args: ListArg[] = [...(statuses ?? [])];
    if (filter.device_id !== undefined) args.push(filter.device_id);
    if (filter.task_type !== undefined) args.push(filter.task_type);
    if (filter.before !== undefined) args.push(filter.before);
    args.push(clampPageSize(filter.limit));
    return this.listStatement(shape).all(...args);
  }

  /**
   * Every unfinished task, at startup. Rows come back as arrays and become
   * objects here: better-sqlite3 builds named-key row objects ~2.5x slower
   * than a JS literal, and with 100k queued tasks that is most of a restart.
   */
  loadActive(page?: ActiveTaskPage): TaskDbRow[] {
    const raw = page === undefined ? this.q.activeRaw.all() : this.q.activePageRaw.all(page.afterId ?? '', page.upToId, page.limit);
    return (raw as unknown[][]).map(rowFromArray);
  }

  lastId(): string | null {
    return (this.q.lastId.get() as string | null | undefined) ?? null;
  }

  events(taskId: string, limit: number): TaskEventDbRow[] {
    return this.q.events.all(taskId, limit);
  }

  countByStatus(): Record<TaskStatus, number> {
    const counts = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
    // The CHECK constraint admits only known statuses.
    for (const { status, n } of this.q.countByStatus.all()) counts[status as TaskStatus] = n;
    return counts;
  }

  countActive(): Record<ActiveStatus, number> {
    const counts: Record<ActiveStatus, number> = { queued: 0, assigned: 0, running: 0 };
    for (const { status, n } of this.q.countActive.all()) counts[status as ActiveStatus] = n;
    return counts;
  }

  countFinishedSince(sinceMs: number): Record<FinalStatus, number> {
    const counts: Record<FinalStatus, number> = { succeeded: 0, failed: 0, timed_out: 0, cancelled: 0 };
    for (const { status, n } of this.q.countFinishedSince.all(sinceMs)) {
      // Only final tasks carry finished_at_ms; anything else is ignored rather than miscounted.
      if (FINAL_STATUSES.has(status as TaskStatus)) counts[status as FinalStatus] = n;
    }
    return counts;
  }

  private applyChanges(changes: TaskChanges): string[] {
    for (const task of changes.inserts ?? []) this.insert(task);
    return applyTaskRows(this.q, (changes.updates ?? []).map(toUpdateArgs), (changes.events ?? []).map(toEventArgs));
  }

  /** Callers look up idempotency keys first, so a duplicate here is a bug; say which key clashed. */
  private insert(task: TaskRecord): void {
    try {
      this.q.insert.run(...toInsertArgs(task));
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new StoreError(`inserting task ${task.task_id} failed: duplicate task_id`, err);
      }
      if (code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new StoreError(
          `inserting task ${task.task_id} failed: duplicate idempotency_key ${JSON.stringify(task.idempotency_key)}`,
          err,
        );
      }
      throw err;
    }
  }

  private listStatement(shape: ListShape): ListStatement {
    const key = JSON.stringify(shape);
    let stmt = this.listStatements.get(key);
    if (stmt === undefined) {
      stmt = this.db.prepare<ListArg[], TaskDbRow>(listSql(shape));
      this.listStatements.set(key, stmt);
    }
    return stmt;
  }
}

function prepareTaskQueries(db: Database.Database) {
  return {
    insert: db.prepare<TaskInsertArgs>(TASK_SQL.insert),
    update: db.prepare<TaskUpdateArgs>(TASK_SQL.update),
    insertEvent: db.prepare<TaskEventArgs>(TASK_SQL.insertEvent),
    get: db.prepare<[string], TaskDbRow>(TASK_SQL.get),
    byIdempotencyKey: db.prepare<[string], TaskDbRow>(TASK_SQL.byIdempotencyKey),
    activeRaw: db.prepare(TASK_SQL.active).raw(true),
    activePageRaw: db.prepare(TASK_SQL.activePage).raw(true),
    lastId: db.prepare(TASK_SQL.lastId).pluck(),
    events: db.prepare<[string, number], TaskEventDbRow>(TASK_SQL.events),
    countByStatus: db.prepare<[], { status: string; n: number }>(TASK_SQL.countByStatus),
    countActive: db.prepare<[], { status: string; n: number }>(TASK_SQL.countActive),
    countFinishedSince: db.prepare<[number], { status: string; n: number }>(TASK_SQL.countFinishedSince),
  };
}

/** Parameters bind in the order the terms appear: statuses, device, type, before, limit. Exported for the query-plan test. */
export function listSql(shape: ListShape): string {
  const where: string[] = [];
  if (shape.statusCount > 0) where.push(`status IN (${Array(shape.statusCount).fill('?').join(', ')})`);
  // Redundant for the result; it lets the planner walk tasks_active instead of every task.
  if (shape.isActiveOnly) where.push(ACTIVE_CONDITION);
  if (shape.hasDevice) where.push('device_id = ?');
  if (shape.hasType) where.push('task_type = ?');
  if (shape.hasBefore) where.push('task_id < ?');
  const clause = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
  return `SELECT ${COLUMNS} FROM tasks ${clause} ORDER BY task_id DESC LIMIT ?`;
}

/** Deduplicated and limited to real statuses, which also bounds the statement cache. */
function knownStatuses(statuses: readonly TaskStatus[]): TaskStatus[] {
  return TASK_STATUSES.filter((s) => statuses.includes(s));
}

function clampPageSize(limit: number): number {
  if (Number.isNaN(limit)) return 1;
  return Math.min(MAX_TASK_PAGE, Math.max(1, Math.floor(limit)));
}

/** A row in TASK_COLUMNS order (raw mode) as a TaskDbRow. */
function rowFromArray(r: unknown[]): TaskDbRow {
  return {
    task_id: r[0] as string, status: r[1] as string, priority: r[2] as string, task_type: r[3] as string,
    device_id: r[4] as string | null, attempts: r[5] as number, retries: r[6] as number, timeout_s: r[7] as number,
    max_retries: r[8] as number, created_at_ms: r[9] as number, assigned_at_ms: r[10] as number | null,
    started_at_ms: r[11] as number | null, finished_at_ms: r[12] as number | null, not_before_ms: r[13] as number | null,
    wait_reason: r[14] as string | null, idempotency_key: r[15] as string | null, labels: r[16] as string,
    requirements: r[17] as string, payload: r[18] as string, result: r[19] as string | null,
  };
}
