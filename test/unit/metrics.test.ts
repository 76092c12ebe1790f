import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { register as globalRegister } from 'prom-client';
import type { Clock } from '../../src/common/clock.js';
import { MASTER_DEFAULTS } from '../../src/common/config.js';
import { silentLogger } from '../../src/common/logger.js';
import { snapshotDevices } from '../../src/master/metrics/device-snapshot.js';
import { TaskStateTracker } from '../../src/master/metrics/task-tracker.js';
import { MasterMetrics, MAX_DEVICE_SERIES } from '../../src/master/metrics.js';
import { DeviceRegistry } from '../../src/master/registry.js';
import { TaskService } from '../../src/master/tasks/task-service.js';
import { openStore } from '../../src/store/index.js';
import type { DeviceProfile, DeviceRecord, Store, TaskRecord } from '../../src/store/store.js';
import { waitFor } from '../helpers/wait.js';

// ------------------------------------------------------------ setup

class ManualClock implements Clock {
  constructor(public ms = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

interface Rig {
  store: Store;
  dir: string;
  clock: ManualClock;
  registry: DeviceRegistry;
  tasks: TaskService;
  metrics: MasterMetrics;
  sent: Array<{ device: string; type: string; data: Record<string, unknown> }>;
  connections: number;
}

const HEARTBEAT_MS = 1000;
const OFFLINE_MS = 5000;

/** A real store, registry and task service, as the Master wires them; `dir` reuses a store. */
function rig(t: TestContext, dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-metrics-'))): Rig {
  const clock = new ManualClock();
  const log = silentLogger();
  const store = openStore(dir);
  const registry = new DeviceRegistry({ store, clock, log, heartbeatIntervalMs: HEARTBEAT_MS, offlineAfterMs: OFFLINE_MS });
  const sent: Rig['sent'] = [];
  const r = { store, dir, clock, registry, sent, connections: 0 } as Rig;
  r.tasks = new TaskService({
    store, registry, clock, log,
    config: { ...MASTER_DEFAULTS },
    send: (device, msg) => {
      sent.push({ device, type: msg.message_type, data: msg.data as Record<string, unknown> });
      return true;
    },
    isConnected: (id) => registry.get(id)?.state === 'online',
  });
  r.metrics = new MasterMetrics({ registry, tasks: r.tasks, store, clock, openConnections: () => r.connections });
  registry.load();
  r.tasks.load();
  t.after(() => {
    r.metrics.close();
    r.tasks.close();
    registry.flush();
    store.close();
  });
  return r;
}

function removeDir(t: TestContext, dir: string): void {
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
}

function profile(taskTypes: string[] = ['echo']): DeviceProfile {
  return {
    hostname: null, role: 'worker', tags: [], platform: 'linux', arch: 'x64', cpu_count: 4, cpu_model: null,
    memory_total_gb: 8, storage_total_gb: 100, gpu: null, max_tasks: 1, task_types: taskTypes,
    node_version: null, protocol_version: '1.0', extra: {},
  };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Just enough of the text format for these tests (the integration test has the strict parser). */
function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample with exactly these labels, or undefined. */
async function value(metrics: MasterMetrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const want = JSON.stringify(Object.entries(labels).sort());
  const found = samples(await metrics.render()).filter((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want);
  assert.ok(found.length <= 1, `${name} ${want} appears ${found.length} times`);
  return found[0]?.value;
}

async function taskCounts(metrics: MasterMetrics): Promise<Record<string, number | undefined>> {
  const out: Record<string, number | undefined> = {};
  for (const status of ['queued', 'assigned', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled']) {
    out[status] = await value(metrics, 'rc_tasks', { status });
  }
  return out;
}

function lastAssign(r: Rig, taskId: string): { attempt: number } {
  const msg = [...r.sent].reverse().find((s) => s.type === 'task_assign' && s.data['task_id'] === taskId);
  assert.ok(msg, `a task_assign for ${taskId}`);
  return { attempt: msg.data['attempt'] as number };
}

function waitAssigned(r: Rig, taskId: string, attempt: number): Promise<unknown> {
  return waitFor(() => r.sent.some((s) => s.type === 'task_assign' && s.data['task_id'] === taskId && s.data['attempt'] === attempt), 2000, `assign ${taskId} #${attempt}`, 5);
}

function result(r: Rig, device: string, taskId: string, attempt: number, status: 'succeeded' | 'failed'): Promise<void> {
  return new Promise((resolve, reject) => {
    r.tasks.onResult(device, { task_id: taskId, attempt, status, result: { output: '', exit_code: status === 'succeeded' ? 0 : 1, error: null, duration_s: 0, truncated: false } }, (outcome) => {
      if (outcome instanceof Error) reject(outcome);
      else resolve();
    });
  });
}

// ------------------------------------------------------------ tests

test('counters move: wire messages, protocol errors, SSE clients', async (t) => {
  const r = rig(t);
  removeDir(t, r.dir);
  assert.equal(await value(r.metrics, 'rc_wire_messages_total', { type: 'heartbeat' }), undefined);
  r.metrics.countWireMessage('heartbeat');
  r.metrics.countWireMessage('heartbeat');
  r.metrics.countWireMessage('register');
  r.metrics.countWireMessage('made_up_type');
  assert.equal(await value(r.metrics, 'rc_wire_messages_total', { type: 'heartbeat' }), 2);
  assert.equal(await value(r.metrics, 'rc_wire_messages_total', { type: 'register' }), 1);
  assert.equal(await value(r.metrics, 'rc_wire_messages_total', { type: 'other' }), 1, 'unknown types share one series');
  assert.equal(await value(r.metrics, 'rc_wire_messages_total', { type: 'made_up_type' }), undefined);

  r.metrics.countProtocolError('RC_ERR_PROTO_INVALID_JSON');
  r.metrics.countProtocolError('RC_ERR_NOT_A_CODE');
  assert.equal(await value(r.metrics, 'rc_protocol_errors_total', { code: 'RC_ERR_PROTO_INVALID_JSON' }), 1);
  assert.equal(await value(r.metrics, 'rc_protocol_errors_total', { code: 'other' }), 1);

  assert.equal(await value(r.metrics, 'rc_sse_clients', { stream: 'tasks' }), 0, 'known streams start at 0');
  r.metrics.sseClientOpened('tasks');
  r.metrics.sseClientOpened('tasks');
  r.metrics.sseClientOpened('logs');
  r.metrics.sseClientClosed('tasks');
  r.metrics.sseClientDropped('tasks');
  assert.equal(await value(r.metrics, 'rc_sse_clients', { stream: 'tasks' }), 1);
  assert.equal(await value(r.metrics, 'rc_sse_clients', { stream: 'logs' }), 1);
  assert.equal(await value(r.metrics, 'rc_sse_clients_dropped_total', { stream: 'tasks' }), 1);
  r.metrics.sseClientClosed('logs');
  r.metrics.sseClientClosed('logs');
  assert.equal(await value(r.metrics, 'rc_sse_clients', { stream: 'logs' }), 0, 'an extra close does not go below 0');

  r.connections = 7;
  assert.equal(await value(r.metrics, 'rc_wire_connections'), 7, 'computed at scrape');
  r.connections = 3;
  assert.equal(await value(r.metrics, 'rc_wire_connections'), 3);
});

test('devices by state, heartbeats, and per-device gauges that vanish when offline', async (t) => {
  const r = rig(t);
  removeDir(t, r.dir);
  r.registry.register('dev-a', profile(), '192.0.2.1');
  r.registry.register('dev-b', profile(), '192.0.2.2');
  assert.equal(await value(r.metrics, 'rc_devices', { state: 'online' }), 2);
  assert.equal(await value(r.metrics, 'rc_devices', { state: 'offline' }), 0);
  assert.equal(await value(r.metrics, 'rc_heartbeats_total'), 0);
  assert.equal(await value(r.metrics, 'rc_device_cpu_usage_percent', { device_id: 'dev-a' }), undefined, 'no heartbeat yet, no series');

  r.registry.heartbeat('dev-a', { cpu_usage: 42.5, memory_usage: 61.25, battery: { percent: 80, charging: false }, temperature_c: 51 });
  r.registry.heartbeat('dev-b', { cpu_usage: 3, memory_usage: null, battery: null });
  r.registry.heartbeat('dev-a', { cpu_usage: 43.5, memory_usage: 61.25, battery: { percent: 79, charging: false }, temperature_c: 52 });
  assert.equal(await value(r.metrics, 'rc_heartbeats_total'), 3);
  assert.equal(await value(r.metrics, 'rc_device_cpu_usage_percent', { device_id: 'dev-a' }), 43.5, 'the latest heartbeat');
  assert.equal(await value(r.metrics, 'rc_device_memory_usage_percent', { device_id: 'dev-a' }), 61.25);
  assert.equal(await value(r.metrics, 'rc_device_battery_percent', { device_id: 'dev-a' }), 79);
  assert.equal(await value(r.metrics, 'rc_device_temperature_celsius', { device_id: 'dev-a' }), 52);
  assert.equal(await value(r.metrics, 'rc_device_cpu_usage_percent', { device_id: 'dev-b' }), 3);
  assert.equal(await value(r.metrics, 'rc_device_memory_usage_percent', { device_id: 'dev-b' }), undefined, 'null metrics have no series');
  assert.equal(await value(r.metrics, 'rc_device_battery_percent', { device_id: 'dev-b' }), undefined);
  assert.equal(await value(r.metrics, 'rc_device_metrics_omitted'), 0);

  // dev-b keeps talking; dev-a goes silent until it is offline.
  r.clock.advance(OFFLINE_MS + 1);
  r.registry.heartbeat('dev-b', { cpu_usage: 4 });
  r.registry.tick();
  assert.equal(r.registry.get('dev-a')?.state, 'offline');
  assert.equal(await value(r.metrics, 'rc_devices', { state: 'offline' }), 1);
  assert.equal(await value(r.metrics, 'rc_devices', { state: 'online' }), 1);
  const text = await r.metrics.render();
  assert.doesNotMatch(text, /device_id="dev-a"/, 'every series of the offline device is gone');
  assert.equal(await value(r.metrics, 'rc_device_cpu_usage_percent', { device_id: 'dev-b' }), 4);

  // Back on its next heartbeat.
  r.registry.heartbeat('dev-a', { cpu_usage: 9 });
  assert.equal(await value(r.metrics, 'rc_device_cpu_usage_percent', { device_id: 'dev-a' }), 9);
});

test('per-device series are capped at 2,000 devices, the same ones each scrape', () => {
  assert.equal(MAX_DEVICE_SERIES, 2000);
  const device = (i: number, state: DeviceRecord['state']): DeviceRecord => ({
    device_id: `d-${String(i).padStart(5, '0')}`, profile: profile(), ip_address: null, state,
    first_seen_ms: 0, last_seen_ms: 0, registered_at_ms: 0, last_metrics: { cpu_usage: i },
  });
  const devices = Array.from({ length: 2010 }, (_, i) => device(i, i % 201 === 0 ? 'offline' : 'online'));
  const snap = snapshotDevices(devices);
  const offline = devices.filter((d) => d.state === 'offline').length;
  assert.equal(snap.rows.length, 2000);
  assert.equal(snap.omitted, 2010 - offline - 2000);
  assert.equal(snap.byState.offline, offline, 'state counts are never capped');
  assert.equal(snap.byState.online, 2010 - offline);
  assert.ok(snap.rows.every((row) => !row.device_id.endsWith('00000')), 'offline devices have no rows');
  assert.equal(snap.rows[0]?.device_id, 'd-00001', 'lowest ids first');
  assert.equal(snapshotDevices(devices, 3).rows.length, 3);
});

test('tasks by status, queue wait and duration follow a task through the service', async (t) => {
  const r = rig(t);
  removeDir(t, r.dir);
  assert.deepEqual(await taskCounts(r.metrics), { queued: 0, assigned: 0, running: 0, succeeded: 0, failed: 0, timed_out: 0, cancelled: 0 });

  const [task] = r.tasks.submit([{ task_type: 'echo', payload: { message: 'hi' } }]);
  assert.ok(task);
  assert.equal((await taskCounts(r.metrics)).queued, 1, 'no device yet: it waits in the queue');
  assert.equal(await value(r.metrics, 'rc_tasks_queued', { priority: 'normal' }), 1);

  r.clock.advance(250);
  r.registry.register('dev-a', profile(), null);
  r.tasks.scheduleDispatch();
  await waitAssigned(r, task.task_id, 1);
  assert.deepEqual(await taskCounts(r.metrics), { queued: 0, assigned: 1, running: 0, succeeded: 0, failed: 0, timed_out: 0, cancelled: 0 });
  assert.equal(await value(r.metrics, 'rc_task_queue_wait_seconds_count', { task_type: 'echo' }), 1);
  assert.equal(await value(r.metrics, 'rc_task_queue_wait_seconds_sum', { task_type: 'echo' }), 0.25);
  assert.equal(await value(r.metrics, 'rc_task_queue_wait_seconds_bucket', { task_type: 'echo', le: '0.1' }), 0);
  assert.equal(await value(r.metrics, 'rc_task_queue_wait_seconds_bucket', { task_type: 'echo', le: '0.25' }), 1);

  r.tasks.onProgress('dev-a', { task_id: task.task_id, attempt: 1, event: 'started' });
  assert.equal((await taskCounts(r.metrics)).running, 1);
  assert.equal((await taskCounts(r.metrics)).assigned, 0);

  r.clock.advance(1500);
  await result(r, 'dev-a', task.task_id, 1, 'succeeded');
  assert.deepEqual(await taskCounts(r.metrics), { queued: 0, assigned: 0, running: 0, succeeded: 1, failed: 0, timed_out: 0, cancelled: 0 });
  assert.equal(await value(r.metrics, 'rc_task_duration_seconds_count', { task_type: 'echo' }), 1);
  assert.equal(await value(r.metrics, 'rc_task_duration_seconds_sum', { task_type: 'echo' }), 1.5);
  assert.equal(await value(r.metrics, 'rc_task_duration_seconds_bucket', { task_type: 'echo', le: '1' }), 0);
  assert.equal(await value(r.metrics, 'rc_task_duration_seconds_bucket', { task_type: 'echo', le: '2.5' }), 1);

  // A task cancelled while queued never started: counted, but no duration.
  const [other] = r.tasks.submit([{ task_type: 'echo', payload: { message: 'never' }, requirements: { device_id: 'nobody' } }]);
  assert.ok(other);
  assert.equal((await taskCounts(r.metrics)).queued, 1);
  r.tasks.cancel(other.task_id);
  assert.deepEqual(await taskCounts(r.metrics), { queued: 0, assigned: 0, running: 0, succeeded: 1, failed: 0, timed_out: 0, cancelled: 1 });
  assert.equal(await value(r.metrics, 'rc_task_duration_seconds_count', { task_type: 'echo' }), 1);
});

test('a retried task: queue wait counts from its return to the queue', async (t) => {
  const r = rig(t);
  removeDir(t, r.dir);
  r.registry.register('dev-a', profile(), null);
  const [task] = r.tasks.submit([{ task_type: 'echo', payload: { message: 'x' }, max_retries: 1 }]);
  assert.ok(task);
  await waitAssigned(r, task.task_id, 1);
  r.clock.advance(60_000);
  await result(r, 'dev-a', task.task_id, lastAssign(r, task.task_id).attempt, 'failed');
  assert.equal((await taskCounts(r.metrics)).queued, 1, 'back in the queue for a retry');
  assert.equal((await taskCounts(r.metrics)).failed, 0, 'a retried failure is not final');
  assert.equal((await taskCounts(r.metrics)).assigned, 0);
  // The retry backoff passes, then the task is placed again.
  r.clock.advance(MASTER_DEFAULTS.retry_base_s * 1000 + 10);
  r.tasks.scheduleDispatch();
  await waitAssigned(r, task.task_id, 2);
  assert.equal(await value(r.metrics, 'rc_task_queue_wait_seconds_count', { task_type: 'echo' }), 2);
  const waited = await value(r.metrics, 'rc_task_queue_wait_seconds_sum', { task_type: 'echo' });
  assert.equal(waited, (MASTER_DEFAULTS.retry_base_s * 1000 + 10) / 1000, 'not the 60 s since creation');
  await result(r, 'dev-a', task.task_id, 2, 'failed');
  assert.deepEqual(await taskCounts(r.metrics), { queued: 0, assigned: 0, running: 0, succeeded: 0, failed: 1, timed_out: 0, cancelled: 0 });
  assert.equal(await value(r.metrics, 'rc_task_duration_seconds_count', { task_type: 'echo' }), undefined, 'never started, no duration');
});

test('task counts start from the store, then follow events (restart with a task still assigned)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-metrics-'));
  removeDir(t, dir);
  await t.test('first life: one succeeded, one left assigned', async (t) => {
    const r = rig(t, dir);
    r.registry.register('dev-a', profile(), null);
    const [a] = r.tasks.submit([{ task_type: 'echo', payload: { message: 'a' } }]);
    await waitAssigned(r, a!.task_id, 1);
    await result(r, 'dev-a', a!.task_id, 1, 'succeeded');
    const [b] = r.tasks.submit([{ task_type: 'echo', payload: { message: 'b' } }]);
    await waitAssigned(r, b!.task_id, 1);
    r.tasks.close(); // flush to the store
    assert.equal(r.store.countTasksByStatus().assigned, 1);
  });
  await t.test('second life: counts read once, the assigned task is tracked', async (t) => {
    const r = rig(t, dir);
    assert.equal((await taskCounts(r.metrics)).succeeded, 1);
    assert.equal((await taskCounts(r.metrics)).assigned, 1);
    // The worker comes back without the task: it is requeued, then placed again.
    r.registry.register('dev-a', profile(), null);
    r.tasks.onDeviceRegistered('dev-a', ['echo'], []);
    await waitFor(async () => (await taskCounts(r.metrics)).assigned === 1 && r.sent.some((s) => s.type === 'task_assign'), 2000, 'reassigned');
    const [assign] = r.sent.filter((s) => s.type === 'task_assign');
    await result(r, 'dev-a', assign!.data['task_id'] as string, assign!.data['attempt'] as number, 'succeeded');
    assert.deepEqual(await taskCounts(r.metrics), { queued: 0, assigned: 0, running: 0, succeeded: 2, failed: 0, timed_out: 0, cancelled: 0 });
  });
});

test('the tracker forgets final tasks (memory stays bounded)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-metrics-'));
  const store = openStore(dir);
  try {
    const tracker = new TaskStateTracker(store);
    const base: TaskRecord = {
      task_id: 't1', task_type: 'echo', payload: {}, priority: 'normal', requirements: {}, timeout_s: 60, max_retries: 0,
      idempotency_key: null, labels: {}, status: 'queued', device_id: null, attempts: 0, retries: 0, created_at_ms: 1000,
      assigned_at_ms: null, started_at_ms: null, finished_at_ms: null, not_before_ms: null, wait_reason: null, result: null,
    };
    for (let i = 0; i < 100; i++) {
      const id = `t${i}`;
      assert.deepEqual(tracker.onTask({ ...base, task_id: id, status: 'assigned', device_id: 'd', assigned_at_ms: 1400 }, 1400), { queueWaitMs: 400, durationMs: null });
      tracker.onTask({ ...base, task_id: id, status: 'running', assigned_at_ms: 1400, started_at_ms: 1500 }, 1500);
      assert.equal(tracker.trackedSize, 1);
      const fin = tracker.onTask({ ...base, task_id: id, status: 'succeeded', started_at_ms: 1500, finished_at_ms: 1750 }, 1750);
      assert.deepEqual(fin, { queueWaitMs: null, durationMs: 250 });
    }
    assert.equal(tracker.trackedSize, 0);
    assert.equal(tracker.count('succeeded'), 100);
    assert.equal(tracker.count('running'), 0);
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('two masters in one process keep separate registries, none in the global one', async (t) => {
  const a = rig(t);
  const b = rig(t);
  removeDir(t, a.dir);
  removeDir(t, b.dir);
  assert.notEqual(a.metrics.register, b.metrics.register);
  assert.notEqual(a.metrics.register, globalRegister);
  a.metrics.countWireMessage('register');
  a.registry.register('only-a', profile(), null);
  assert.equal(await value(a.metrics, 'rc_wire_messages_total', { type: 'register' }), 1);
  assert.equal(await value(b.metrics, 'rc_wire_messages_total', { type: 'register' }), undefined);
  assert.equal(await value(a.metrics, 'rc_devices', { state: 'online' }), 1);
  assert.equal(await value(b.metrics, 'rc_devices', { state: 'online' }), 0);
  assert.ok(await value(b.metrics, 'rc_process_cpu_seconds_total') !== undefined, 'process metrics in each registry');
  assert.equal(globalRegister.getMetricsAsArray().filter((m) => m.name.startsWith('rc_')).length, 0);
  assert.equal(a.metrics.contentType, 'text/plain; version=0.0.4; charset=utf-8');
});

test('render() writes NaN the way the text format spells it', async (t) => {
  const r = rig(t);
  removeDir(t, r.dir);
  // Straight after creation the event-loop stats have no sample yet: prom-client alone writes "Nan".
  const raw = await r.metrics.register.metrics();
  const text = await r.metrics.render();
  assert.doesNotMatch(text, / Nan$/m);
  if (/ Nan$/m.test(raw)) assert.match(text, / NaN$/m);
});

test('README documents every registered metric, and registers every documented one', async (t) => {
  const r = rig(t);
  removeDir(t, r.dir);
  const readme = fs.readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
  const start = readme.indexOf('\n## Metrics\n');
  assert.ok(start >= 0, 'README has a "## Metrics" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  const documented = new Map<string, { linuxOnly: boolean }>();
  for (const row of section.split('\n').filter((l) => l.startsWith('| `rc_'))) {
    const name = /^\| `(rc_[a-z0-9_]+)`/.exec(row)?.[1];
    assert.ok(name, row);
    assert.ok(!documented.has(name), `${name} is documented twice`);
    documented.set(name, { linuxOnly: row.includes('†') });
  }
  const registered = new Set(r.metrics.register.getMetricsAsArray().map((m) => m.name));
  assert.ok(registered.size > 20, 'the registry has metrics');
  const undocumented = [...registered].filter((n) => !documented.has(n));
  assert.deepEqual(undocumented, [], 'registered but not in README');
  const missing = [...documented].filter(([n, d]) => !registered.has(n) && !(d.linuxOnly && process.platform !== 'linux')).map(([n]) => n);
  assert.deepEqual(missing, [], 'in README but not registered');
  for (const name of registered) assert.match(name, /^rc_[a-z0-9_]+$/, `${name} has the rc_ prefix`);
});
