import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openStore, SqliteStore, STORE_FILE_NAME } from '../../src/store/index.js';
import { applyMigrations, MIGRATIONS } from '../../src/store/migrations.js';
import type { DeviceRecord } from '../../src/store/store.js';
import { defer, makeTempDir, openRaw } from '../helpers/store.js';

const T0 = 1_700_000_000_000;
const device = (id: string): DeviceRecord => ({
  device_id: id,
  profile: { hostname: id, role: 'worker', tags: [], platform: null, arch: null, cpu_count: null, cpu_model: null, memory_total_gb: null, storage_total_gb: null, gpu: null, max_tasks: 1, task_types: [], node_version: null, protocol_version: null, extra: {} },
  ip_address: null, state: 'online', first_seen_ms: T0, last_seen_ms: T0, registered_at_ms: T0, last_metrics: null,
});
const beats = (id: string, offsets: number[]) => offsets.map((n) => ({ device_id: id, ts_ms: T0 + n, metrics: { n } }));
const ns = (rows: Array<{ metrics: Record<string, unknown> }>) => rows.map((r) => r.metrics['n']);

test('each device reads its own chain, newest first, interleaved with other devices', (t) => {
  const dir = makeTempDir(t);
  const store = openStore(dir);
  defer(t, () => store.close());
  store.upsertDevice(device('a'));
  store.upsertDevice(device('b'));
  for (let i = 1; i <= 50; i++) store.appendHeartbeats([...beats('a', [i]), ...beats('b', [1000 + i])]);
  assert.deepEqual(ns(store.recentHeartbeats('a', 3)), [50, 49, 48]);
  assert.deepEqual(ns(store.recentHeartbeats('b', 2)), [1050, 1049]);
  assert.equal(store.recentHeartbeats('a', 1000).length, 50);
});

test('rows appended after the last device touch are found again after a restart', (t) => {
  const dir = makeTempDir(t);
  const first = openStore(dir);
  first.upsertDevice(device('a'));
  first.upsertDevice(device('b'));
  first.appendHeartbeats(beats('a', [1, 2]));
  first.touchDevices([{ device_id: 'a', ts_ms: T0 + 2, metrics: {} }]);
  // Not touched afterwards, as after a crash between two touches.
  first.appendHeartbeats([...beats('a', [3, 4]), ...beats('b', [7])]);
  first.close();

  const second = openStore(dir);
  defer(t, () => second.close());
  assert.deepEqual(ns(second.recentHeartbeats('a', 10)), [4, 3, 2, 1]);
  assert.deepEqual(ns(second.recentHeartbeats('b', 10)), [7]);
  second.appendHeartbeats(beats('a', [5]));
  assert.deepEqual(ns(second.recentHeartbeats('a', 2)), [5, 4], 'the chain goes on from the recovered head');
});

test('a late row is spliced in by time, so pruning the oldest cuts only the tail', (t) => {
  const dir = makeTempDir(t);
  const store = openStore(dir);
  defer(t, () => store.close());
  store.upsertDevice(device('a'));
  store.appendHeartbeats(beats('a', [10, 20, 40]));
  store.appendHeartbeats(beats('a', [30, 5, 50]));
  assert.deepEqual(ns(store.recentHeartbeats('a', 10)), [50, 40, 30, 20, 10, 5]);
  assert.equal(store.pruneHeartbeats(T0 + 15), 2);
  assert.deepEqual(ns(store.recentHeartbeats('a', 10)), [50, 40, 30, 20]);
});

test('migration 6 chains the history of a database written before it, and drops the per-device index', (t) => {
  const dir = makeTempDir(t);
  const file = path.join(dir, STORE_FILE_NAME);
  const old = new Database(file);
  old.pragma('journal_mode = WAL');
  applyMigrations(old, { migrations: MIGRATIONS.filter((m) => m.version <= 5) });
  const insertDevice = old.prepare("INSERT INTO devices (device_id, profile, state, first_seen_ms, last_seen_ms, registered_at_ms) VALUES (?, '{}', 'online', 0, 0, 0)");
  for (const id of ['a', 'b', 'quiet']) insertDevice.run(id);
  const insertBeat = old.prepare('INSERT INTO heartbeats (device_id, ts_ms, metrics) VALUES (?, ?, ?)');
  for (const [id, n] of [['a', 3], ['b', 1], ['a', 1], ['a', 2], ['b', 2]] as const) insertBeat.run(id, T0 + n, JSON.stringify({ n }));
  old.close();

  const store = new SqliteStore({ file });
  defer(t, () => store.close());
  assert.deepEqual(ns(store.recentHeartbeats('a', 10)), [3, 2, 1]);
  assert.deepEqual(ns(store.recentHeartbeats('b', 1)), [2]);
  assert.deepEqual(store.recentHeartbeats('quiet', 10), []);
  store.appendHeartbeats(beats('a', [4]));
  assert.deepEqual(ns(store.recentHeartbeats('a', 2)), [4, 3]);
  const raw = openRaw(t, file);
  const indexes = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'heartbeats'").pluck().all();
  assert.deepEqual(indexes, ['heartbeats_ts']);
});
