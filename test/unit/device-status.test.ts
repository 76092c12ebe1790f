import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { silentLogger } from '../../src/common/logger.js';
import { isRcError } from '../../src/common/errors.js';
import { uuidv7 } from '../../src/common/uuidv7.js';
import { dataDirBytes, renderStatus, statusFields } from '../../src/http/cluster-status.js';
import { pageDevices, parseDeviceFilter, parseDevicePage } from '../../src/http/device-query.js';
import { buildClusterStatus } from '../../src/master/cluster-summary.js';
import { DeviceRegistry } from '../../src/master/registry.js';
import { openStore, STORE_FILE_NAME } from '../../src/store/index.js';
import { TASK_SQL } from '../../src/store/task-tables.js';
import type { DeviceRecord, Store, TaskRecord, TaskStatus } from '../../src/store/store.js';

// ------------------------------------------------------------ helpers

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-devstatus-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A store in a temp dir; closed before the dir is removed (t.after runs in order). */
function openTempStore(t: TestContext, dir = tempDir(t)): { store: Store; dir: string } {
  const store = openStore(dir);
  t.after(() => store.close());
  return { store, dir };
}

function device(id: string, overrides: Partial<DeviceRecord> = {}, profile: Partial<DeviceRecord['profile']> = {}): DeviceRecord {
  return {
    device_id: id,
    profile: {
      hostname: null, role: 'worker', tags: [], platform: 'linux', arch: 'arm64', cpu_count: 4, cpu_model: null,
      memory_total_gb: 2, storage_total_gb: 32, gpu: false, max_tasks: 2, task_types: ['echo'], node_version: null,
      protocol_version: '1.0', extra: {}, ...profile,
    },
    ip_address: null,
    state: 'online',
    first_seen_ms: 1_000,
    last_seen_ms: 2_000,
    registered_at_ms: 1_000,
    last_metrics: null,
    ...overrides,
  };
}

function task(status: TaskStatus, finishedAtMs: number | null): TaskRecord {
  return {
    task_id: uuidv7(), task_type: 'echo', payload: {}, priority: 'normal', requirements: {}, timeout_s: 60, max_retries: 0,
    idempotency_key: null, labels: {}, status, device_id: null, attempts: 0, retries: 0, created_at_ms: 0, assigned_at_ms: null,
    started_at_ms: null, finished_at_ms: finishedAtMs, not_before_ms: null, wait_reason: null, result: null,
  };
}

function registry(store: Store, nowMs = 10_000): DeviceRegistry {
  return new DeviceRegistry({ store, clock: { now: () => nowMs }, log: silentLogger(), heartbeatIntervalMs: 15_000, offlineAfterMs: 60_000 });
}

function assertBadRequest(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => isRcError(err) && err.code === 'RC_ERR_HTTP_BAD_REQUEST' && err.status === 400 && pattern.test(err.message));
}

// ------------------------------------------------------------ query parsing and paging

test('parseDeviceFilter reads status, role, repeated and comma-listed tags, and device_id', () => {
  assert.deepEqual(parseDeviceFilter({}), { state: 'all' });
  assert.deepEqual(parseDeviceFilter({ status: 'online', role: 'pi', tag: ['arm,garage', 'x'], device_id: 'pi-1' }), {
    state: 'online', role: 'pi', tags: ['arm', 'garage', 'x'], device_id: 'pi-1',
  });
  assertBadRequest(() => parseDeviceFilter({ status: 'asleep' }), /status must be one of/);
  assertBadRequest(() => parseDeviceFilter({ status: ['online', 'offline'] }), /status may be given once/);
  assertBadRequest(() => parseDeviceFilter({ tag: 'a,,b' }), /tag must not hold an empty value/);
  assertBadRequest(() => parseDeviceFilter({ role: '' }), /role must not be empty/);
});

test('parseDevicePage defaults to 100 and refuses bad limits, offsets and offset with after', () => {
  assert.deepEqual(parseDevicePage({}), { limit: 100, offset: 0 });
  assert.deepEqual(parseDevicePage({ limit: '1000', after: 'b' }), { limit: 1000, offset: 0, after: 'b' });
  for (const limit of ['0', '1001', '-1', '2.5', '1e2', 'ten']) assertBadRequest(() => parseDevicePage({ limit }), /limit must be an integer from 1 to 1000/);
  assertBadRequest(() => parseDevicePage({ offset: '-3' }), /offset must be an integer/);
  assertBadRequest(() => parseDevicePage({ offset: '1', after: 'a' }), /offset or after, not both/);
});

test('pageDevices walks a sorted list by cursor, even from an id that is gone', () => {
  const ids = ['a', 'b', 'c', 'd'].map((device_id) => ({ device_id }));
  assert.deepEqual(pageDevices(ids, { limit: 3, offset: 0 }), { items: ids.slice(0, 3), nextAfter: 'c' });
  assert.deepEqual(pageDevices(ids, { limit: 3, offset: 0, after: 'c' }), { items: ids.slice(3), nextAfter: null });
  assert.deepEqual(pageDevices(ids, { limit: 2, offset: 0, after: 'bb' }), { items: ids.slice(2), nextAfter: null });
  assert.deepEqual(pageDevices(ids, { limit: 2, offset: 3 }), { items: ids.slice(3), nextAfter: null });
  assert.deepEqual(pageDevices(ids, { limit: 2, offset: 9 }), { items: [], nextAfter: null });
  assert.deepEqual(pageDevices([], { limit: 2, offset: 0, after: 'x' }), { items: [], nextAfter: null });
});

// ------------------------------------------------------------ status

const STATUS = buildClusterStatus({
  devices: [
    device('a', {}, { cpu_count: 4, memory_total_gb: 1.25 }),
    device('b', {}, { cpu_count: 8, memory_total_gb: 3.5 }),
    device('c', { state: 'offline' }, { cpu_count: 64, memory_total_gb: 128 }),
    device('d', { state: 'suspect' }),
  ],
  drainedCount: 1,
  queued: { low: 1, normal: 2, high: 3, urgent: 4 },
  active: { assigned: 5, running: 6 },
  finishedLastHour: { succeeded: 7, failed: 8, timed_out: 9, cancelled: 10 },
  uptimeS: 11,
  version: '9.9.9',
  dataDirBytes: 12,
  nowMs: Date.UTC(2026, 10, 24),
});

test('buildClusterStatus counts devices by state and resources of online devices only', () => {
  assert.deepEqual(STATUS.devices, { online: 2, suspect: 1, offline: 1, total: 4, drained: 1 });
  assert.deepEqual(STATUS.resources, { cpu_cores: 12, memory_gb: 4.75, storage_gb: 64 });
  assert.deepEqual(Object.keys(STATUS.queue), ['urgent', 'high', 'normal', 'low']);
  assert.deepEqual(STATUS.tasks, { assigned: 5, running: 6 });
  assert.equal(STATUS.timestamp, '2026-11-24T00:00:00.000Z');
});

test('renderStatus: aligned key: value text, one json object, one csv/tsv row', () => {
  const fields = statusFields(STATUS);
  const text = renderStatus(fields, 'text').body.trimEnd().split('\n');
  assert.equal(text.length, fields.length);
  const valueAt = new Set(text.map((line) => /^[a-z_]+: +/.exec(line)?.[0].length));
  assert.equal(valueAt.size, 1, 'values start in one column');
  assert.ok(text.includes(`${'queued_urgent:'.padEnd('succeeded_last_hour:'.length)} 4`), text.join('\n'));

  const json = JSON.parse(renderStatus(fields, 'json').body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(json), fields.map(([k]) => k));
  assert.equal(json['version'], '9.9.9');
  assert.equal(json['timed_out_last_hour'], 9);

  const csv = renderStatus(fields, 'csv');
  assert.match(csv.type, /^text\/csv/);
  const [header, row, rest] = csv.body.split('\n');
  assert.equal(header, fields.map(([k]) => k).join(','));
  assert.equal(row, fields.map(([, v]) => String(v)).join(','));
  assert.equal(rest, '');
  assert.equal(renderStatus(fields, 'tsv').body.split('\n')[0], fields.map(([k]) => k).join('\t'));
});

test('dataDirBytes sums the regular files of the dir, not of its subdirs', async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'retire-cluster.db'), Buffer.alloc(1000));
  fs.writeFileSync(path.join(dir, 'retire-cluster.db-wal'), Buffer.alloc(234));
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'big'), Buffer.alloc(5000));
  assert.equal(await dataDirBytes(dir), 1234);
});

// ------------------------------------------------------------ store

test('setDeviceDrained persists, survives reopening and a re-register upsert, and reports unknown devices', (t) => {
  const dir = tempDir(t);
  const first = openStore(dir);
  first.upsertDevice(device('pi-1'));
  first.upsertDevice(device('pi-2'));
  assert.equal(first.setDeviceDrained('pi-1', true), true);
  assert.equal(first.setDeviceDrained('ghost', true), false);
  first.upsertDevice(device('pi-1', { last_seen_ms: 3_000 }));
  first.close();

  const { store } = openTempStore(t, dir);
  const [one, two] = store.loadDevices();
  assert.equal(one?.drained, true, 'an upsert (register) never clears drained');
  assert.equal(one?.last_seen_ms, 3_000);
  assert.equal(two?.drained, undefined, 'an undrained record reads as before migration 3');
  store.setDeviceDrained('pi-1', false);
  assert.equal(store.loadDevices()[0]?.drained, undefined);
});

test('countFinishedSince counts final tasks from a time on; countActiveTasks counts unfinished ones', (t) => {
  const { store } = openTempStore(t);
  store.commitTaskChanges({
    inserts: [
      task('succeeded', 5_000), task('succeeded', 4_000), task('succeeded', 3_999), task('failed', 4_500),
      task('timed_out', 9_000), task('cancelled', 100), task('queued', null), task('assigned', null),
      task('running', null), task('running', null),
    ],
  });
  assert.deepEqual(store.countFinishedSince(4_000), { succeeded: 2, failed: 1, timed_out: 1, cancelled: 0 });
  assert.deepEqual(store.countFinishedSince(0), { succeeded: 3, failed: 1, timed_out: 1, cancelled: 1 });
  assert.deepEqual(store.countFinishedSince(10_000), { succeeded: 0, failed: 0, timed_out: 0, cancelled: 0 });
  assert.deepEqual(store.countActiveTasks(), { queued: 1, assigned: 1, running: 2 });
});

test('the status counts read indexes, not the whole task table', (t) => {
  const { dir } = openTempStore(t);
  const raw = new Database(path.join(dir, STORE_FILE_NAME), { readonly: true });
  t.after(() => raw.close());
  const plan = (sql: string, ...args: unknown[]): string =>
    raw.prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`).all(...args).map((r) => r.detail).join('; ');
  assert.match(plan(TASK_SQL.countFinishedSince, 0), /USING COVERING INDEX tasks_finished\b/);
  assert.match(plan(TASK_SQL.countActive), /USING INDEX tasks_active\b/);
});

// ------------------------------------------------------------ registry

test('registry: drain is stored and recorded, restored by load, and refused for unknown devices', (t) => {
  const { store } = openTempStore(t);
  const before = registry(store);
  before.register('pi-1', device('pi-1').profile, null);
  before.register('pi-2', device('pi-2').profile, null);
  const announced: unknown[] = [];
  before.on('drained', (e) => announced.push(e));
  assert.equal(before.setDrained('ghost', true), false);
  assert.equal(before.setDrained('pi-1', true, 'new SD card'), true);
  assert.equal(before.setDrained('pi-1', true, 'again'), true);
  assert.deepEqual(announced, [{ device_id: 'pi-1', drained: true }], 'setting the same value again is a no-op');
  assert.deepEqual(store.recentDeviceEvents('pi-1', 1)[0], { device_id: 'pi-1', ts_ms: 10_000, kind: 'drained', detail: { reason: 'new SD card' } });

  const after = registry(store);
  after.load();
  assert.equal(after.isDrained('pi-1'), true);
  assert.equal(after.isDrained('pi-2'), false);
  assert.equal(after.drainedCount, 1);
  assert.equal(after.get('pi-1')?.drained, undefined, 'the live flag is isDrained(), not a stale record field');
  after.register('pi-1', device('pi-1').profile, null);
  assert.equal(after.isDrained('pi-1'), true, 'registering again keeps the device drained');
});

test('registry.list filters by tags (all of them) and device_id, in id order', (t) => {
  const { store } = openTempStore(t);
  const reg = registry(store);
  reg.register('b', device('b').profile, null);
  reg.register('a', { ...device('a').profile, tags: ['arm', 'garage'] }, null);
  reg.register('c', { ...device('c').profile, tags: ['arm'] }, null);
  const ids = (filter: Parameters<DeviceRegistry['list']>[0]): string[] => reg.list(filter).map((d) => d.device_id);
  assert.deepEqual(ids({}), ['a', 'b', 'c']);
  assert.deepEqual(ids({ tags: ['arm'] }), ['a', 'c']);
  assert.deepEqual(ids({ tags: ['arm', 'garage'] }), ['a']);
  assert.deepEqual(ids({ device_id: 'c' }), ['c']);
  assert.deepEqual(ids({ device_id: 'c', tags: ['garage'] }), []);
});
