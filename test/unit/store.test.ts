import { test } from 'node:test';
import { captureLog, defer, makeTempDir, openRaw, setup } from '../helpers/store.js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { StoreError } from '../../src/common/errors.js';
import { openStore, SqliteStore, STORE_FILE_NAME } from '../../src/store/index.js';
import { applyMigrations, MIGRATIONS } from '../../src/store/migrations.js';
import type { DeviceRecord } from '../../src/store/store.js';

const LATEST = MIGRATIONS.at(-1)!.version;

function makeDevice(deviceId: string, overrides: Partial<DeviceRecord> = {}): DeviceRecord {
  return {
    device_id: deviceId,
    profile: {
      hostname: `${deviceId}.lan`,
      role: 'worker',
      tags: ['phone', 'arm'],
      platform: 'android',
      arch: 'arm64',
      cpu_count: 8,
      cpu_model: 'Snapdragon 845',
      memory_total_gb: 5.5,
      storage_total_gb: 64,
      gpu: false,
      max_tasks: 2,
      task_types: ['echo', 'shell'],
      node_version: 'v20.11.0',
      protocol_version: '1.0',
      extra: { battery: { percent: 81, charging: true }, kernel: '4.9' },
    },
    ip_address: '192.168.1.23',
    state: 'online',
    first_seen_ms: 1_700_000_000_000,
    last_seen_ms: 1_700_000_000_500,
    registered_at_ms: 1_700_000_000_100,
    last_metrics: null,
    ...overrides,
  };
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

test('applies migrations once and re-opening is idempotent', (t) => {
  const dir = makeTempDir(t);
  const firstLog = captureLog();
  openStore(dir, firstLog).close();
  const secondLog = captureLog();
  openStore(dir, secondLog).close();

  const raw = openRaw(t, path.join(dir, STORE_FILE_NAME));
  const rows = raw.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
  assert.deepEqual(rows, MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
  assert.equal(firstLog.entries.filter((e) => e.msg === 'store migration applied').length, MIGRATIONS.length);
  assert.equal(secondLog.entries.filter((e) => e.msg === 'store migration applied').length, 0);
});

test('refuses a database stamped with a newer schema version', (t) => {
  const dir = makeTempDir(t);
  openStore(dir).close();
  const file = path.join(dir, STORE_FILE_NAME);
  const raw = new Database(file);
  raw.prepare('INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (999, ?, 0)').run('from the future');
  raw.close();

  assertStoreError(() => openStore(dir), new RegExp(`schema version 999 .*only knows up to ${LATEST}\\b`));
});

test('rolls back a failing migration step entirely', (t) => {
  const raw = openRaw(t, path.join(makeTempDir(t), 'm.db'));
  const broken = [...MIGRATIONS, { version: LATEST + 1, name: 'broken', up: 'CREATE TABLE half (a); SELECT * FROM missing;' }];

  assert.throws(() => applyMigrations(raw, { migrations: broken }), /no such table: missing/);
  const version = raw.prepare('SELECT MAX(version) AS v FROM schema_migrations').get();
  assert.deepEqual(version, { v: LATEST });
  assert.equal(raw.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get(), undefined);
});

test('refuses a migration list that is not strictly increasing', (t) => {
  const raw = openRaw(t, path.join(makeTempDir(t), 'm.db'));
  const unordered = [{ version: 2, name: 'b', up: '' }, { version: 1, name: 'a', up: '' }];
  assertStoreError(() => applyMigrations(raw, { migrations: unordered }), /not strictly increasing at version 1/);
});

test('the data dir is private (0700): it holds the device secrets', (t) => {
  const parent = makeTempDir(t);
  const dir = path.join(parent, 'data');
  fs.mkdirSync(dir, { mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  const store = openStore(dir);
  defer(t, () => store.close());
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
});

test('runs in WAL mode', (t) => {
  const { file } = setup(t);
  const raw = openRaw(t, file);
  assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
});

test('refuses a database that cannot use WAL', () => {
  assertStoreError(() => new SqliteStore({ file: ':memory:' }), /journal_mode is 'memory', expected 'wal'/);
});

test('upsert and loadDevices round-trip every field', (t) => {
  const { store } = setup(t);
  const a = makeDevice('dev-a', { last_metrics: { cpu_usage: 12.5, load_average: [0.1, 0.2, 0.3] } });
  const b = makeDevice('dev-b', { ip_address: null, state: 'suspect', profile: { ...makeDevice('x').profile, gpu: null } });
  store.upsertDevice(b);
  store.upsertDevice(a);
  assert.deepEqual(store.loadDevices(), [a, b]);
});

test('re-upserting a device replaces its row and keeps its history', (t) => {
  const { store } = setup(t);
  store.upsertDevice(makeDevice('dev-a'));
  store.recordHeartbeats([{ device_id: 'dev-a', ts_ms: 1_700_000_001_000, metrics: { cpu_usage: 1 } }]);
  const updated = makeDevice('dev-a', { ip_address: '10.0.0.9', state: 'offline', last_metrics: { cpu_usage: 2 } });
  store.upsertDevice(updated);

  assert.deepEqual(store.loadDevices(), [updated]);
  assert.equal(store.recentHeartbeats('dev-a', 10).length, 1);
});

test('keeps data across close and reopen', (t) => {
  const dir = makeTempDir(t);
  const device = makeDevice('dev-a');
  const first = openStore(dir);
  first.upsertDevice(device);
  first.recordHeartbeats([{ device_id: 'dev-a', ts_ms: 1_700_000_001_000, metrics: { cpu_usage: 3 } }]);
  first.close();

  const second = openStore(dir);
  defer(t, () => second.close());
  assert.deepEqual(second.loadDevices(), [{ ...device, last_seen_ms: 1_700_000_001_000, last_metrics: { cpu_usage: 3 } }]);
  assert.deepEqual(second.recentHeartbeats('dev-a', 5), [
    { device_id: 'dev-a', ts_ms: 1_700_000_001_000, metrics: { cpu_usage: 3 } },
  ]);
});

test('recordHeartbeats updates last_seen and last_metrics and appends history', (t) => {
  const { store } = setup(t);
  store.upsertDevice(makeDevice('dev-a'));
  store.upsertDevice(makeDevice('dev-b'));
  store.recordHeartbeats([
    { device_id: 'dev-a', ts_ms: 1_700_000_002_000, metrics: { cpu_usage: 10 } },
    { device_id: 'dev-b', ts_ms: 1_700_000_002_100, metrics: { cpu_usage: 20 } },
    { device_id: 'dev-a', ts_ms: 1_700_000_003_000, metrics: { cpu_usage: 30 } },
  ]);

  const [a, b] = store.loadDevices();
  assert.equal(a?.last_seen_ms, 1_700_000_003_000);
  assert.deepEqual(a?.last_metrics, { cpu_usage: 30 });
  assert.equal(b?.last_seen_ms, 1_700_000_002_100);
  assert.deepEqual(b?.last_metrics, { cpu_usage: 20 });
  assert.equal(store.recentHeartbeats('dev-a', 10).length, 2);
  assert.equal(store.recentHeartbeats('dev-b', 10).length, 1);
});

test('a late heartbeat is kept in history but does not roll back last_seen', (t) => {
  const { store } = setup(t);
  store.upsertDevice(makeDevice('dev-a'));
  store.recordHeartbeats([{ device_id: 'dev-a', ts_ms: 1_700_000_005_000, metrics: { cpu_usage: 50 } }]);
  store.recordHeartbeats([{ device_id: 'dev-a', ts_ms: 1_700_000_004_000, metrics: { cpu_usage: 40 } }]);

  const [a] = store.loadDevices();
  assert.equal(a?.last_seen_ms, 1_700_000_005_000);
  assert.deepEqual(a?.last_metrics, { cpu_usage: 50 });
  assert.equal(store.recentHeartbeats('dev-a', 10).length, 2);
});

test('skips heartbeats of unknown devices with a warning and keeps the rest of the batch', (t) => {
  const log = captureLog();
  const { store } = setup(t, log);
  store.upsertDevice(makeDevice('dev-a'));
  store.recordHeartbeats([
    { device_id: 'ghost', ts_ms: 1_700_000_002_000, metrics: {} },
    { device_id: 'dev-a', ts_ms: 1_700_000_002_000, metrics: { cpu_usage: 1 } },
  ]);

  assert.equal(store.recentHeartbeats('dev-a', 10).length, 1);
  assert.deepEqual(store.recentHeartbeats('ghost', 10), []);
  const warning = log.entries.find((e) => e.msg === 'store skipped rows for unknown devices');
  assert.deepEqual(warning?.obj, { table: 'heartbeats', count: 1, device_ids: ['ghost'] });
});

test('empty batches are a no-op', (t) => {
  const { store } = setup(t);
  store.recordHeartbeats([]);
  store.recordDeviceEvents([]);
  store.updateDeviceStates([]);
  assert.deepEqual(store.loadDevices(), []);
});

test('recentHeartbeats returns newest first, up to the limit', (t) => {
  const { store } = setup(t);
  store.upsertDevice(makeDevice('dev-a'));
  const rows = [3, 1, 4, 2].map((n) => ({ device_id: 'dev-a', ts_ms: 1_700_000_000_000 + n, metrics: { n } }));
  store.recordHeartbeats(rows);

  assert.deepEqual(store.recentHeartbeats('dev-a', 3).map((r) => r.metrics['n']), [4, 3, 2]);
  assert.deepEqual(store.recentHeartbeats('dev-a', 0), []);
  assert.deepEqual(store.recentHeartbeats('dev-a', -1), []);
});

test('recordDeviceEvents and recentDeviceEvents round-trip, newest first', (t) => {
  const { store } = setup(t);
  store.upsertDevice(makeDevice('dev-a'));
  const registered = { device_id: 'dev-a', ts_ms: 1_700_000_000_100, kind: 'registered', detail: { ip: '192.168.1.23' } };
  const changed = { device_id: 'dev-a', ts_ms: 1_700_000_009_000, kind: 'state_changed', detail: { from: 'online', to: 'suspect' } };
  store.recordDeviceEvents([registered, changed]);

  assert.deepEqual(store.recentDeviceEvents('dev-a', 10), [changed, registered]);
  assert.deepEqual(store.recentDeviceEvents('dev-a', 1), [changed]);
  assert.deepEqual(store.recentDeviceEvents('dev-b', 10), []);
});

test('updateDeviceStates sets the stored state of each device', (t) => {
  const { store } = setup(t);
  store.upsertDevice(makeDevice('dev-a'));
  store.upsertDevice(makeDevice('dev-b'));
  store.updateDeviceStates([
    { device_id: 'dev-a', state: 'suspect' },
    { device_id: 'dev-b', state: 'offline' },
  ]);
  assert.deepEqual(store.loadDevices().map((d) => [d.device_id, d.state]), [
    ['dev-a', 'suspect'],
    ['dev-b', 'offline'],
  ]);
});

test('pruneHeartbeats deletes only rows older than the cutoff and returns the count', (t) => {
  const { store } = setup(t);
  store.upsertDevice(makeDevice('dev-a'));
  store.recordHeartbeats([100, 200, 300, 400].map((ts) => ({ device_id: 'dev-a', ts_ms: ts, metrics: {} })));

  assert.equal(store.pruneHeartbeats(300), 2);
  assert.deepEqual(store.recentHeartbeats('dev-a', 10).map((r) => r.ts_ms), [400, 300]);
  assert.equal(store.pruneHeartbeats(300), 0);
});

test('pruneHeartbeats with maxRows deletes at most that many, oldest first', (t) => {
  const dir = makeTempDir(t);
  const store = new SqliteStore({ file: path.join(dir, 'prune.db') });
  defer(t, () => store.close());
  store.upsertDevice(makeDevice('dev-a'));
  store.recordHeartbeats([400, 100, 300, 200].map((ts) => ({ device_id: 'dev-a', ts_ms: ts, metrics: {} })));

  assert.equal(store.pruneHeartbeats(350, 2), 2);
  assert.deepEqual(store.recentHeartbeats('dev-a', 10).map((r) => r.ts_ms), [400, 300]);
  assert.equal(store.pruneHeartbeats(350, 2), 1);
  assert.equal(store.pruneHeartbeats(350, 2), 0);
});

test('a row with corrupt JSON still loads, with a warning and a minimal profile', (t) => {
  const log = captureLog();
  const { store, file } = setup(t, log);
  store.upsertDevice(makeDevice('dev-good'));
  store.upsertDevice(makeDevice('dev-bad'));
  const raw = openRaw(t, file);
  raw.prepare("UPDATE devices SET profile = '{not json', last_metrics = '[1,' WHERE device_id = 'dev-bad'").run();

  const devices = store.loadDevices();
  assert.equal(devices.length, 2);
  const bad = devices.find((d) => d.device_id === 'dev-bad');
  assert.equal(bad?.profile.max_tasks, 0);
  assert.deepEqual(bad?.profile.task_types, []);
  assert.equal(bad?.last_metrics, null);
  assert.equal(bad?.ip_address, '192.168.1.23');
  assert.deepEqual(devices.find((d) => d.device_id === 'dev-good'), makeDevice('dev-good'));
  const columns = log.entries.filter((e) => e.level === 'warn').map((e) => (e.obj as { column?: string }).column);
  assert.deepEqual(columns, ['devices.profile', 'devices.last_metrics']);
});

test('quickCheck reports ok on a healthy database', (t) => {
  const { store } = setup(t);
  store.upsertDevice(makeDevice('dev-a'));
  assert.equal(store.quickCheck(), 'ok');
});

test('wraps SQLite errors as StoreError naming the operation and code', (t) => {
  const { store } = setup(t);
  const bogus = { ...makeDevice('dev-a'), state: 'bogus' } as unknown as DeviceRecord;
  const err = assertStoreError(() => store.upsertDevice(bogus), /^upserting device dev-a failed: SQLITE_CONSTRAINT_CHECK: /);
  assert.equal((err.cause as { code?: string }).code, 'SQLITE_CONSTRAINT_CHECK');
});

test('after close, methods throw StoreError and close stays idempotent', (t) => {
  const log = captureLog();
  const { store } = setup(t, log);
  store.close();
  store.close();
  assert.deepEqual(log.entries.filter((e) => e.level === 'warn'), []);
  const err = assertStoreError(() => store.loadDevices(), /^loading devices failed: .*not open/);
  assert.ok(err.cause instanceof Error);
  assertStoreError(
    () => store.recordHeartbeats([{ device_id: 'dev-a', ts_ms: 1, metrics: {} }]),
    /^recording 1 heartbeats failed/,
  );
});

test('openStore creates a nested data dir and accepts a pino logger', (t) => {
  const dataDir = path.join(makeTempDir(t), 'a', 'b');
  const store = openStore(dataDir, pino({ enabled: false }));
  defer(t, () => store.close());
  assert.ok(fs.existsSync(path.join(dataDir, STORE_FILE_NAME)));
});
