import { test } from 'node:test';
import { captureLog, defer, makeTempDir, openRaw, setup } from '../helpers/store.js';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from '../../src/common/errors.js';
import { uuidv7 } from '../../src/common/uuidv7.js';
import { openStore, STORE_FILE_NAME } from '../../src/store/index.js';
import { applyMigrations, MIGRATIONS, readSchemaVersion } from '../../src/store/migrations.js';
import { listSql, TASK_SQL } from '../../src/store/task-tables.js';
import { TASK_STATUSES, type Store, type TaskEventRow, type TaskRecord, type TaskStatus } from '../../src/store/store.js';

// ------------------------------------------------------------ helpers

const T0 = 1_700_000_000_000;

/** A queued task; ids come from uuidv7 so later calls sort later. */
function makeTask(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    task_id: uuidv7(),
    task_type: 'echo',
    payload: { message: 'hello' },
    priority: 'normal',
    requirements: {},
    timeout_s: 300,
    max_retries: 3,
    idempotency_key: null,
    labels: {},
    status: 'queued',
    device_id: null,
    attempts: 0,
    retries: 0,
    created_at_ms: T0,
    assigned_at_ms: null,
    started_at_ms: null,
    finished_at_ms: null,
    not_before_ms: null,
    wait_reason: null,
    result: null,
    ...overrides,
  };
}

/** Every field set to something other than makeTask's defaults. */
function makeFullTask(): TaskRecord {
  return makeTask({
    task_type: 'shell',
    payload: { command: 'uname -a', env: { LANG: 'C' }, args: [1, 'two', null, true], nested: { deep: { x: 1.5 } } },
    priority: 'urgent',
    requirements: {
      min_cpu_cores: 4, min_memory_gb: 1.5, min_storage_gb: 8, platform: 'linux', arch: 'arm64', role: 'worker',
      tags: ['pi', 'fast'], gpu: false, device_id: 'dev-pinned', min_battery_percent: 30, requires_charging: true,
    },
    timeout_s: 12.5,
    max_retries: 7,
    idempotency_key: 'order-42',
    labels: { project: 'ci', 'owner/team': 'ops', unicode: 'é ✓' },
    status: 'running',
    device_id: 'dev-pinned',
    attempts: 2,
    retries: 1,
    created_at_ms: T0,
    assigned_at_ms: T0 + 10,
    started_at_ms: T0 + 20,
    finished_at_ms: T0 + 30,
    not_before_ms: T0 + 5,
    wait_reason: 'no device has 4 cores',
    result: { output: 'line 1\nline 2 "quoted"', exit_code: 3, error: 'exit status 3', duration_s: 0.25, truncated: true },
  });
}

function assertStoreError(fn: () => unknown, message: RegExp): StoreError {
  let caught: unknown;
  assert.throws(fn, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof StoreError, `expected StoreError, got ${String(caught)}`);
  assert.equal(caught.code, 'RC_ERR_STORE');
  assert.match(caught.message, message);
  return caught;
}

function ids(tasks: readonly TaskRecord[]): string[] {
  return tasks.map((t) => t.task_id);
}

function zeroCounts(): Record<TaskStatus, number> {
  return Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
}

/**
 * SQLite plans again with the bound values when a partial index depends on
 * them, so the probe value must be one no index condition mentions.
 */
function queryPlan(db: Database.Database, sql: string): string {
  const params = Array<string>(sql.split('?').length - 1).fill('plan-probe');
  const rows = db.prepare<string[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`).all(...params);
  return rows.map((r) => r.detail).join('; ');
}

// ------------------------------------------------------------ writes and reads

test('inserts and reads back every field of a task', (t) => {
  const { store } = setup(t);
  const full = makeFullTask();
  const bare = makeTask();
  store.commitTaskChanges({ inserts: [full, bare] });

  assert.deepEqual(store.getTask(full.task_id), full);
  assert.deepEqual(store.getTask(bare.task_id), bare);
  assert.equal(store.getTask(uuidv7()), null);
});

test('finds a task by its idempotency key', (t) => {
  const { store } = setup(t);
  const keyed = makeTask({ idempotency_key: 'k-1' });
  // Any number of tasks may have no key: the unique index ignores NULL.
  store.commitTaskChanges({ inserts: [makeTask(), keyed, makeTask()] });

  assert.deepEqual(store.findTaskByIdempotencyKey('k-1'), keyed);
  assert.equal(store.findTaskByIdempotencyKey('k-2'), null);
  assert.equal(store.findTaskByIdempotencyKey(''), null);
});

test('a duplicate task_id fails the whole change set with a StoreError naming task_id', (t) => {
  const { store } = setup(t);
  const existing = makeTask();
  store.commitTaskChanges({ inserts: [existing] });
  const fresh = makeTask();
  const event: TaskEventRow = { task_id: existing.task_id, ts_ms: T0, kind: 'requeued', attempt: 1, device_id: null, detail: {} };

  const err = assertStoreError(
    () => store.commitTaskChanges({
      inserts: [fresh, makeTask({ task_id: existing.task_id })],
      updates: [{ ...existing, status: 'cancelled' }],
      events: [event],
    }),
    new RegExp(`^inserting task ${existing.task_id} failed: duplicate task_id$`),
  );
  assert.equal((err.cause as { code?: string }).code, 'SQLITE_CONSTRAINT_PRIMARYKEY');
  assert.equal(store.getTask(fresh.task_id), null);
  assert.equal(store.getTask(existing.task_id)?.status, 'queued');
  assert.deepEqual(store.taskEvents(existing.task_id, 10), []);
  assert.deepEqual(store.countTasksByStatus(), { ...zeroCounts(), queued: 1 });
});

test('a duplicate idempotency_key fails the whole batch with a StoreError naming the key', (t) => {
  const { store } = setup(t);
  const first = makeTask({ idempotency_key: 'dup' });
  const second = makeTask({ idempotency_key: 'dup' });
  const other = makeTask({ idempotency_key: 'other' });

  assertStoreError(
    () => store.commitTaskChanges({ inserts: [other, first, second] }),
    new RegExp(`^inserting task ${second.task_id} failed: duplicate idempotency_key "dup"$`),
  );
  assert.equal(store.findTaskByIdempotencyKey('other'), null);
  assert.equal(store.findTaskByIdempotencyKey('dup'), null);
  assert.deepEqual(store.listTasks({ limit: 10 }), []);

  store.commitTaskChanges({ inserts: [first] });
  assertStoreError(() => store.commitTaskChanges({ inserts: [second] }), /duplicate idempotency_key "dup"/);
  assert.deepEqual(ids(store.listTasks({ limit: 10 })), [first.task_id]);
});

test('a row breaking a CHECK constraint is rejected and the batch rolled back', (t) => {
  const { store } = setup(t);
  const good = makeTask();
  const bad = makeTask({ status: 'paused' as TaskStatus });
  assertStoreError(() => store.commitTaskChanges({ inserts: [good, bad] }), /^committing task changes \(2 inserts, 0 updates, 0 events\) failed: SQLITE_CONSTRAINT_CHECK/);
  assert.equal(store.getTask(good.task_id), null);
});

test('updates write every mutable column and leave the immutable ones alone', (t) => {
  const { store } = setup(t);
  const task = makeTask({ wait_reason: 'no device online', labels: { a: '1' } });
  store.commitTaskChanges({ inserts: [task] });
  const full = makeFullTask();
  const updated: TaskRecord = {
    ...task,
    status: 'failed', priority: 'high', device_id: 'dev-b', attempts: 4, retries: 3,
    assigned_at_ms: T0 + 100, started_at_ms: T0 + 200, finished_at_ms: T0 + 300, not_before_ms: T0 + 50,
    wait_reason: null, labels: { b: '2' }, result: full.result,
  };
  store.commitTaskChanges({ updates: [{ ...updated, payload: { changed: true }, task_type: 'shell', timeout_s: 1, idempotency_key: 'new' }] });

  assert.deepEqual(store.getTask(task.task_id), updated);
  assert.equal(store.findTaskByIdempotencyKey('new'), null);
});

test('inserts, updates and events of one change set land together, in that order', (t) => {
  const { store } = setup(t);
  const task = makeTask();
  const assigned = { ...task, status: 'assigned' as const, device_id: 'dev-a', attempts: 1, assigned_at_ms: T0 + 1 };
  const event: TaskEventRow = { task_id: task.task_id, ts_ms: T0 + 1, kind: 'assigned', attempt: 1, device_id: 'dev-a', detail: { why: 'test' } };
  store.commitTaskChanges({ inserts: [task], updates: [assigned], events: [event] });

  assert.deepEqual(store.getTask(task.task_id), assigned);
  assert.deepEqual(store.taskEvents(task.task_id, 10), [event]);
});

test('an update of an unknown task is skipped with a warning and the rest commits', (t) => {
  const log = captureLog();
  const { store } = setup(t, log);
  const known = makeTask();
  store.commitTaskChanges({ inserts: [known] });
  const ghost = makeTask();
  store.commitTaskChanges({ updates: [{ ...ghost, status: 'running' }, { ...known, status: 'running' }] });

  assert.equal(store.getTask(known.task_id)?.status, 'running');
  assert.equal(store.getTask(ghost.task_id), null);
  const warning = log.entries.find((e) => e.msg === 'store skipped updates of unknown tasks');
  assert.deepEqual(warning?.obj, { table: 'tasks', count: 1, task_ids: [ghost.task_id] });
});

test('an empty change set touches nothing, not even a closed database', (t) => {
  const { store } = setup(t);
  store.close();
  store.commitTaskChanges({});
  store.commitTaskChanges({ inserts: [], updates: [], events: [] });
  assertStoreError(() => store.commitTaskChanges({ events: [], inserts: [makeTask()] }), /^committing task changes \(1 inserts, 0 updates, 0 events\) failed: .*not open/);
});

// ------------------------------------------------------------ listing

test('listTasks returns newest first and pages with before', (t) => {
  const { store } = setup(t);
  const tasks = Array.from({ length: 5 }, () => makeTask());
  store.commitTaskChanges({ inserts: [...tasks].reverse() });
  const [t1, t2, t3, t4, t5] = ids(tasks);

  assert.deepEqual(ids(store.listTasks({ limit: 2 })), [t5, t4]);
  assert.deepEqual(ids(store.listTasks({ limit: 2, before: t4! })), [t3, t2]);
  assert.deepEqual(ids(store.listTasks({ limit: 2, before: t2! })), [t1]);
  assert.deepEqual(ids(store.listTasks({ limit: 2, before: t1! })), []);
});

test('listTasks filters by statuses, device and task type together', (t) => {
  const { store } = setup(t);
  const q = makeTask();
  const runA = makeTask({ status: 'running', device_id: 'dev-a' });
  const doneA = makeTask({ status: 'succeeded', device_id: 'dev-a' });
  const failB = makeTask({ status: 'failed', device_id: 'dev-b', task_type: 'shell' });
  const asgB = makeTask({ status: 'assigned', device_id: 'dev-b', task_type: 'shell' });
  store.commitTaskChanges({ inserts: [q, runA, doneA, failB, asgB] });
  const list = (f: Omit<Parameters<Store['listTasks']>[0], 'limit'>): string[] => ids(store.listTasks({ limit: 100, ...f }));

  assert.deepEqual(list({ statuses: ['failed', 'succeeded'] }), [failB.task_id, doneA.task_id]);
  assert.deepEqual(list({ statuses: ['queued', 'running'] }), [runA.task_id, q.task_id]);
  assert.deepEqual(list({ statuses: ['running', 'running', 'queued'] }), [runA.task_id, q.task_id]);
  assert.deepEqual(list({ device_id: 'dev-a' }), [doneA.task_id, runA.task_id]);
  assert.deepEqual(list({ device_id: 'dev-b', statuses: ['assigned', 'running'] }), [asgB.task_id]);
  assert.deepEqual(list({ task_type: 'shell' }), [asgB.task_id, failB.task_id]);
  assert.deepEqual(list({ task_type: 'shell', statuses: ['failed'], device_id: 'dev-b' }), [failB.task_id]);
  assert.deepEqual(list({ device_id: 'dev-a', before: doneA.task_id }), [runA.task_id]);
  assert.deepEqual(list({ device_id: 'nobody' }), []);
  assert.deepEqual(list({ statuses: [] }), []);
  assert.deepEqual(list({ statuses: ['bogus' as TaskStatus] }), []);
  assert.deepEqual(list({}).length, 5);
});

test('listTasks clamps the limit to 1..1000', (t) => {
  const { store } = setup(t);
  store.commitTaskChanges({ inserts: Array.from({ length: 1001 }, () => makeTask()) });

  assert.equal(store.listTasks({ limit: 5000 }).length, 1000);
  assert.equal(store.listTasks({ limit: Number.POSITIVE_INFINITY }).length, 1000);
  assert.equal(store.listTasks({ limit: 3.9 }).length, 3);
  assert.equal(store.listTasks({ limit: 0 }).length, 1);
  assert.equal(store.listTasks({ limit: -5 }).length, 1);
  assert.equal(store.listTasks({ limit: Number.NaN }).length, 1);
});

test('loadActiveTasks returns only queued, assigned and running tasks, oldest first', (t) => {
  const { store } = setup(t);
  const tasks = TASK_STATUSES.map((status) => makeTask({ status }));
  store.commitTaskChanges({ inserts: [...tasks].reverse() });
  const active = tasks.filter((x) => ['queued', 'assigned', 'running'].includes(x.status));

  assert.deepEqual(store.loadActiveTasks(), active);
  const first = active[0]!;
  store.commitTaskChanges({ updates: [{ ...first, status: 'cancelled' }] });
  assert.deepEqual(ids(store.loadActiveTasks()), ids(active.slice(1)));
});

test('the task indexes are partial and the queries use them', (t) => {
  const { file } = setup(t);
  const raw = openRaw(t, file);
  const indexes = raw.prepare<[], { name: string; partial: number }>("SELECT name, partial FROM pragma_index_list('tasks') ORDER BY name").all();
  assert.deepEqual(indexes.map((i) => [i.name, i.partial]), [
    ['sqlite_autoindex_tasks_1', 0],
    ['tasks_active', 1],
    ['tasks_device', 1],
    ['tasks_finished', 1],
    ['tasks_idempotency_key', 1],
  ]);
  const activeOnly = { statusCount: 2, isActiveOnly: true, hasDevice: false, hasType: false, hasBefore: true };

  assert.match(queryPlan(raw, TASK_SQL.active), /USING INDEX tasks_active\b/);
  assert.match(queryPlan(raw, listSql(activeOnly)), /USING INDEX tasks_active\b/);
  assert.match(queryPlan(raw, listSql({ ...activeOnly, isActiveOnly: false, hasDevice: true })), /USING INDEX tasks_device\b/);
  assert.match(queryPlan(raw, TASK_SQL.byIdempotencyKey), /USING INDEX tasks_idempotency_key\b/);
});

test('countTasksByStatus has every status, 0 when none', (t) => {
  const { store } = setup(t);
  assert.deepEqual(store.countTasksByStatus(), zeroCounts());

  const statuses: TaskStatus[] = ['queued', 'queued', 'running', 'failed', 'failed', 'failed', 'cancelled'];
  store.commitTaskChanges({ inserts: statuses.map((status) => makeTask({ status })) });
  assert.deepEqual(store.countTasksByStatus(), { ...zeroCounts(), queued: 2, running: 1, failed: 3, cancelled: 1 });
});

// ------------------------------------------------------------ events

test('taskEvents returns one task\'s events in the order recorded, up to the limit', (t) => {
  const { store } = setup(t);
  const a = makeTask();
  const b = makeTask();
  const event = (task: TaskRecord, kind: string, ts: number, attempt: number | null): TaskEventRow => ({
    task_id: task.task_id, ts_ms: ts, kind, attempt, device_id: attempt === null ? null : 'dev-a', detail: { kind, n: ts },
  });
  const a1 = event(a, 'requeued', T0 + 1, 1);
  const a2 = event(a, 'retry_scheduled', T0 + 2, 2);
  // a3 is recorded last with an earlier clock reading (a clock step): the recorded order wins.
  const a3 = event(a, 'cancelled', T0, null);
  store.commitTaskChanges({ inserts: [a, b], events: [a1, event(b, 'requeued', T0, 1), a2] });
  store.commitTaskChanges({ events: [a3] });

  assert.deepEqual(store.taskEvents(a.task_id, 10), [a1, a2, a3]);
  assert.deepEqual(store.taskEvents(a.task_id, 2), [a1, a2]);
  assert.deepEqual(store.taskEvents(a.task_id, 0), []);
  assert.equal(store.taskEvents(b.task_id, 10).length, 1);
  assert.deepEqual(store.taskEvents(uuidv7(), 10), []);
});

// ------------------------------------------------------------ durability and damage

test('keeps tasks and events across close and reopen', (t) => {
  const dir = makeTempDir(t);
  const task = makeFullTask();
  const event: TaskEventRow = { task_id: task.task_id, ts_ms: T0, kind: 'requeued', attempt: 1, device_id: 'dev-a', detail: { reason: 'device lost' } };
  const first = openStore(dir);
  first.commitTaskChanges({ inserts: [task], events: [event] });
  first.close();

  const second = openStore(dir);
  defer(t, () => second.close());
  assert.deepEqual(second.getTask(task.task_id), task);
  assert.deepEqual(second.loadActiveTasks(), [task]);
  assert.deepEqual(second.taskEvents(task.task_id, 10), [event]);
});

test('a row with corrupt JSON still lists, with warnings and safe defaults', (t) => {
  const log = captureLog();
  const { store, file } = setup(t, log);
  const good = makeFullTask();
  const bad = makeFullTask();
  store.commitTaskChanges({
    inserts: [good, { ...bad, idempotency_key: 'bad' }],
    events: [{ task_id: bad.task_id, ts_ms: T0, kind: 'requeued', attempt: 1, device_id: null, detail: { ok: true } }],
  });
  const raw = openRaw(t, file);
  raw.prepare("UPDATE tasks SET payload = '{not json', requirements = '[1,2]', labels = 'null', result = '{\"output\":' WHERE task_id = ?").run(bad.task_id);
  raw.prepare("UPDATE task_events SET detail = '\"text\"' WHERE task_id = ?").run(bad.task_id);

  const listed = store.listTasks({ limit: 10 });
  assert.deepEqual(ids(listed), [bad.task_id, good.task_id]);
  const damaged = listed[0]!;
  assert.deepEqual(
    [damaged.payload, damaged.requirements, damaged.labels, damaged.result],
    [{}, {}, {}, null],
  );
  assert.equal(damaged.task_type, 'shell');
  assert.equal(damaged.attempts, 2);
  assert.deepEqual(listed[1], good);
  const columns = log.entries.filter((e) => e.level === 'warn').map((e) => e.obj);
  assert.deepEqual(columns, ['payload', 'requirements', 'labels', 'result'].map((c) => ({ task_id: bad.task_id, column: `tasks.${c}` })));
  assert.deepEqual(store.taskEvents(bad.task_id, 10)[0]?.detail, {});
});

test('migrates a version-1 database to the latest version and keeps its devices', (t) => {
  const dir = makeTempDir(t);
  const file = path.join(dir, STORE_FILE_NAME);
  const v1 = new Database(file);
  v1.pragma('journal_mode = WAL');
  assert.equal(applyMigrations(v1, { migrations: MIGRATIONS.slice(0, 1) }), 1);
  v1.prepare(`INSERT INTO devices (device_id, profile, ip_address, state, first_seen_ms, last_seen_ms, registered_at_ms, last_metrics)
    VALUES ('dev-old', ?, '10.0.0.7', 'offline', 1, 2, 1, '{"cpu_usage":5}')`).run(JSON.stringify({ role: 'worker', max_tasks: 3, tags: ['pi'] }));
  v1.prepare("INSERT INTO heartbeats (device_id, ts_ms, metrics) VALUES ('dev-old', 2, '{}')").run();
  v1.close();

  const log = captureLog();
  const store = openStore(dir, log);
  defer(t, () => store.close());
  const [device] = store.loadDevices();
  assert.equal(device?.device_id, 'dev-old');
  assert.equal(device?.profile.max_tasks, 3);
  assert.deepEqual(device?.profile.tags, ['pi']);
  assert.deepEqual(device?.last_metrics, { cpu_usage: 5 });
  assert.equal(store.recentHeartbeats('dev-old', 10).length, 1);
  assert.deepEqual(
    log.entries.filter((e) => e.msg === 'store migration applied').map((e) => e.obj),
    MIGRATIONS.slice(1).map((m) => ({ version: m.version, name: m.name })),
    'every later migration applied once, in order',
  );

  const task = makeTask({ device_id: 'dev-old' });
  store.commitTaskChanges({ inserts: [task] });
  assert.deepEqual(store.getTask(task.task_id), task);
  assert.equal(readSchemaVersion(openRaw(t, file)), MIGRATIONS.at(-1)!.version);
});

test('task methods on a closed store throw StoreError naming the operation', (t) => {
  const { store } = setup(t);
  store.close();
  assertStoreError(() => store.getTask('x'), /^reading task x failed: .*not open/);
  assertStoreError(() => store.listTasks({ limit: 1 }), /^listing tasks failed/);
  assertStoreError(() => store.loadActiveTasks(), /^loading active tasks failed/);
  assertStoreError(() => store.countTasksByStatus(), /^counting tasks by status failed/);
  assertStoreError(() => store.taskEvents('x', 1), /^reading events of task x failed/);
  assertStoreError(() => store.findTaskByIdempotencyKey('k'), /^finding a task by idempotency key failed/);
});
