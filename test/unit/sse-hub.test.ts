import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { DEFAULT_SSE_OPTIONS, type SseOptions } from '../../src/http/sse/sse-options.js';
import { StreamHub, type TaskEvents } from '../../src/http/sse/stream-hub.js';
import type { TaskOutputLine } from '../../src/http/sse/views.js';
import { LogFeed } from '../../src/master/log-feed.js';
import type { RegistryEvents } from '../../src/master/registry.js';
import type { DeviceRecord, TaskRecord } from '../../src/store/store.js';
import { FakeSink } from '../helpers/fake-sse-sink.js';

class FakeTasks extends EventEmitter<TaskEvents> {
  readonly records = new Map<string, TaskRecord>();
  get(taskId: string): TaskRecord | null {
    return this.records.get(taskId) ?? null;
  }
  activeCountOn(): number {
    return 7;
  }
}

interface Rig {
  hub: StreamHub;
  registry: EventEmitter<RegistryEvents>;
  tasks: FakeTasks;
  logs: LogFeed;
  metrics: { opened: string[]; closed: string[]; dropped: string[] };
  warnings: unknown[];
}

function rig(t: TestContext, options: Partial<SseOptions> = {}, logs = new LogFeed(), now: () => number = Date.now): Rig {
  const registry = new EventEmitter<RegistryEvents>();
  const tasks = new FakeTasks();
  const metrics = { opened: [] as string[], closed: [] as string[], dropped: [] as string[] };
  const warnings: unknown[] = [];
  const hub = new StreamHub({
    registry,
    tasks,
    logs,
    metrics: {
      sseClientOpened: (s) => metrics.opened.push(s),
      sseClientClosed: (s) => metrics.closed.push(s),
      sseClientDropped: (s) => metrics.dropped.push(s),
    },
    log: { warn: (...args: unknown[]) => warnings.push(args) } as never,
    options: { ...DEFAULT_SSE_OPTIONS, ...options },
    now,
  });
  t.after(() => hub.close());
  return { hub, registry, tasks, logs, metrics, warnings };
}

function task(id: string, status: TaskRecord['status'], extra: Partial<TaskRecord> = {}): TaskRecord {
  return {
    task_id: id, task_type: 'exec', payload: { command: ['secret-args'] }, priority: 'normal', requirements: {}, timeout_s: 60,
    max_retries: 3, idempotency_key: null, labels: {}, status, device_id: 'd1', attempts: 1, retries: 0, created_at_ms: 1_700_000_000_000,
    assigned_at_ms: null, started_at_ms: null, finished_at_ms: null, not_before_ms: null, wait_reason: null, result: null, ...extra,
  };
}

function device(id: string, metrics: Record<string, unknown>): DeviceRecord {
  return {
    device_id: id, ip_address: '10.0.0.2', state: 'online', first_seen_ms: 0, last_seen_ms: 0, registered_at_ms: 0, last_metrics: metrics,
    profile: { hostname: null, role: 'pi', tags: [], platform: 'linux', arch: 'arm64', cpu_count: 4, cpu_model: null, memory_total_gb: 2, storage_total_gb: null, gpu: null, max_tasks: 2, task_types: [], node_version: null, protocol_version: null, extra: {} },
  } as DeviceRecord;
}

const output = (taskId: string, seq: number): TaskOutputLine => ({ task_id: taskId, attempt: 1, stream: 'stdout', line: `line${seq}`, seq });
const data = (sink: FakeSink): Array<Record<string, unknown>> => sink.events().map((e) => JSON.parse(e.data) as Record<string, unknown>);
const names = (sink: FakeSink): string[] => sink.events().map((e) => e.event);
const listeners = (r: Rig): number =>
  (['task', 'output'] as const).reduce((n, e) => n + r.tasks.listenerCount(e), 0) +
  (['registered', 'heartbeat', 'state', 'drained'] as const).reduce((n, e) => n + r.registry.listenerCount(e), 0) +
  r.logs.listenerCount('entry');

describe('StreamHub', () => {
  test('/stream/tasks carries each state change as a small task view', (t) => {
    const r = rig(t);
    const sink = new FakeSink();
    r.hub.openTasks(sink, null);
    r.tasks.emit('task', task('t1', 'assigned'));
    r.tasks.emit('task', task('t1', 'succeeded', { result: { output: 'a lot of output', exit_code: 0, error: null, duration_s: 1.5, truncated: false } }));
    assert.deepEqual(sink.events().map((e) => [e.id, e.event]), [['1', 'task'], ['2', 'task']]);
    const [assigned, done] = data(sink);
    assert.equal(assigned!['status'], 'assigned');
    assert.equal('payload' in assigned!, false, 'no payload');
    assert.deepEqual(done!['result'], { exit_code: 0, error: null, duration_s: 1.5, truncated: false }, 'no output');
  });

  test('a reconnect with the last id seen gets what it missed, and nothing twice', (t) => {
    const r = rig(t);
    for (const s of ['assigned', 'running', 'succeeded'] as const) r.tasks.emit('task', task('t1', s));
    const sink = new FakeSink();
    r.hub.openTasks(sink, 1);
    r.tasks.emit('task', task('t2', 'assigned'));
    assert.deepEqual(sink.events().map((e) => e.id), ['2', '3', '4']);
  });

  test('a client that goes away is unsubscribed; close() ends every stream and removes every listener', (t) => {
    const r = rig(t);
    const before = listeners(r);
    const sinks = [new FakeSink(), new FakeSink(), new FakeSink(), new FakeSink()];
    r.hub.openTasks(sinks[0]!, null);
    r.hub.openLogs(sinks[1]!, null, 30);
    r.hub.openDevices(sinks[2]!, null, 1);
    r.tasks.records.set('t1', task('t1', 'running'));
    r.hub.openTask(sinks[3]!, task('t1', 'running'), null);
    assert.equal(r.hub.clientCount, 4);
    assert.equal(listeners(r), before, 'clients add no listeners to the master');
    for (const s of sinks) s.emit('close');
    assert.equal(r.hub.clientCount, 0);
    assert.equal(r.hub.tasks.subscriberCount + r.hub.logs.subscriberCount + r.hub.devices.subscriberCount, 0);
    assert.equal(r.hub.taskStreams.subscriberCount('t1'), 0);
    assert.deepEqual(r.metrics.opened.sort(), ['devices', 'logs', 'task_output', 'tasks']);
    assert.deepEqual(r.metrics.closed.sort(), ['devices', 'logs', 'task_output', 'tasks']);
    const open = new FakeSink();
    r.hub.openTasks(open, null);
    r.hub.close();
    assert.equal(open.isEnded, true, 'close() ends open streams');
    assert.equal(r.hub.clientCount, 0);
    assert.equal(listeners(r), 0, 'every listener removed');
  });

  test('?task_id= streams output lines live, then the final state and end, and ends the response', (t) => {
    const r = rig(t);
    const sink = new FakeSink();
    r.hub.openTask(sink, task('t1', 'running'), null);
    r.tasks.emit('output', output('t1', 1));
    r.tasks.emit('output', output('t2', 1)); // another task
    r.tasks.emit('output', output('t1', 2));
    assert.equal(sink.isEnded, false);
    r.tasks.emit('task', task('t1', 'succeeded'));
    assert.deepEqual(names(sink), ['task', 'output', 'output', 'task', 'end']);
    assert.deepEqual(sink.events().map((e) => e.id), ['1', '2', '3', '4', '5']);
    assert.deepEqual(data(sink).slice(1, 3).map((d) => d['line']), ['line1', 'line2']);
    assert.deepEqual(data(sink)[4], { task_id: 't1', status: 'succeeded' });
    assert.equal(sink.isEnded, true);
    assert.equal(r.hub.taskStreams.subscriberCount('t1'), 0);
  });

  test('output that came before anyone connected is replayed; a finished task replays and ends at once', (t) => {
    const r = rig(t);
    r.tasks.records.set('t1', task('t1', 'running'));
    r.tasks.emit('output', output('t1', 1));
    r.tasks.emit('output', output('t1', 2));
    const late = new FakeSink();
    r.hub.openTask(late, task('t1', 'running'), null);
    assert.deepEqual(names(late), ['task', 'output', 'output']);
    r.tasks.emit('task', task('t1', 'failed'));
    const after = new FakeSink();
    r.hub.openTask(after, task('t1', 'failed'), 2);
    assert.deepEqual(after.events().map((e) => [e.id, e.event]), [['3', 'output'], ['4', 'task'], ['5', 'end']]);
    assert.equal(after.isEnded, true);
    const never = new FakeSink();
    r.hub.openTask(never, task('t9', 'succeeded'), null);
    assert.deepEqual(names(never), ['task', 'end'], 'a task with no ring gets its state and end');
  });

  test('finished task rings are forgotten after a while, and there are at most maxTaskStreams', (t) => {
    let clock = 1_000_000;
    const r = rig(t, { maxTaskStreams: 3, keepEndedTaskMs: 1000 }, new LogFeed(), () => clock);
    for (const id of ['a', 'b', 'c', 'd']) r.tasks.emit('output', output(id, 1));
    assert.equal(r.hub.taskStreams.size, 3, 'the oldest unwatched ring (a) made room');
    const resumed = new FakeSink();
    r.hub.openTask(resumed, task('a', 'running'), 1);
    assert.deepEqual(resumed.events().map((e) => [e.id, e.event]), [['2', 'task']], 'a ring started again continues the ids');
    const fresh = new FakeSink();
    r.hub.openTask(fresh, task('a', 'running'), null);
    assert.equal(fresh.events()[0]?.event, 'gap', 'what the forgotten ring held is reported missing');
    assert.equal(JSON.parse(fresh.events()[0]!.data).missed_to, 1);
    for (const s of [resumed, fresh]) s.emit('close');
    assert.equal(r.hub.taskStreams.size, 3, 'b made room for a');
    r.tasks.emit('task', task('c', 'succeeded'));
    clock += 500;
    r.tasks.emit('task', task('d', 'succeeded'));
    r.hub.taskStreams.sweep();
    assert.equal(r.hub.taskStreams.size, 3, 'kept for keepEndedTaskMs after the end');
    clock += 500;
    r.hub.taskStreams.sweep();
    assert.equal(r.hub.taskStreams.size, 2, 'c is forgotten first');
    clock += 500;
    r.hub.taskStreams.sweep();
    assert.equal(r.hub.taskStreams.size, 1, 'then d; a still runs');
  });

  test('all task rings together stay within their memory budget', (t) => {
    const r = rig(t, { taskRingsMaxChars: 2000 });
    for (let i = 0; i < 50; i++) r.tasks.emit('output', output(`t${i % 10}`, i));
    assert.ok(r.hub.taskStreams.chars <= 2000, `held ${r.hub.taskStreams.chars} chars`);
    assert.ok(r.hub.taskStreams.size < 10, 'older rings were forgotten');
    const newest = new FakeSink();
    r.hub.openTask(newest, task('t9', 'running'), 0);
    const last = newest.events().at(-1)!;
    assert.equal(last.event, 'output', 'the ring being written is kept');
    assert.equal(JSON.parse(last.data).line, 'line49');
  });

  test('/stream/logs carries only lines at the level asked for or above', (t) => {
    const r = rig(t);
    const warn = new FakeSink();
    const all = new FakeSink();
    r.hub.openLogs(warn, null, 40);
    r.hub.openLogs(all, null, 10);
    r.logs.write('{"level":30,"time":1,"msg":"info"}\n');
    r.logs.write('{"level":40,"time":2,"msg":"warn"}\n');
    r.logs.write('{"level":50,"time":3,"msg":"error"}\n');
    assert.deepEqual(data(warn).map((d) => d['msg']), ['warn', 'error']);
    assert.deepEqual(warn.events().map((e) => e.id), ['2', '3'], 'ids are the stream ids');
    assert.deepEqual(data(all).map((d) => d['level']), [30, 40, 50]);
    const resumed = new FakeSink();
    r.hub.openLogs(resumed, 0, 40);
    assert.deepEqual(data(resumed).map((d) => d['msg']), ['warn', 'error'], 'the filter applies to the replay too');
  });

  test('/stream/devices: state, registered, drained at once; heartbeats as a bounded summary per interval', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
    const r = rig(t, { heartbeatsMaxDevices: 2 });
    const sink = new FakeSink();
    r.hub.openDevices(sink, null, 2);
    r.registry.emit('registered', device('d1', {}));
    r.registry.emit('state', { device_id: 'd1', from: 'online', to: 'suspect' });
    r.registry.emit('drained', { device_id: 'd1', drained: true });
    r.registry.emit('heartbeat', device('d1', { cpu_usage: 10, memory_usage: 20, temperature_c: 40, battery: { percent: 80, charging: true }, active_tasks: 1 }));
    r.registry.emit('heartbeat', device('d1', { cpu_usage: 11 }));
    r.registry.emit('heartbeat', device('d2', {}));
    r.registry.emit('heartbeat', device('d3', {}));
    assert.deepEqual(names(sink), ['registered', 'state', 'drained'], 'heartbeats are not streamed one by one');
    t.mock.timers.tick(2000);
    assert.deepEqual(names(sink), ['registered', 'state', 'drained', 'heartbeats']);
    const summary = data(sink)[3]!;
    assert.equal(summary['count'], 4);
    assert.equal(summary['truncated'], true);
    assert.deepEqual(summary['devices'], [
      { device_id: 'd1', cpu_usage: 11, memory_usage: null, battery: null, temperature_c: null, active_tasks: 7 },
      { device_id: 'd2', cpu_usage: null, memory_usage: null, battery: null, temperature_c: null, active_tasks: 7 },
    ]);
    assert.deepEqual(data(sink)[1], { device_id: 'd1', from: 'online', to: 'suspect' });
    t.mock.timers.tick(2000);
    assert.deepEqual(data(sink)[4], { interval_s: 2, count: 0, devices: [], truncated: false }, 'counts restart each summary');
    const lastId = r.hub.devices.ring.lastId;
    sink.emit('close');
    t.mock.timers.tick(10_000);
    assert.equal(r.hub.devices.ring.lastId, lastId, 'no summaries once nobody reads them');
  });

  test('a client that cannot keep up is dropped and counted, and the master moves on', async (t) => {
    const r = rig(t, { clientMaxQueueEvents: 5 });
    const stuck = new FakeSink();
    const healthy = new FakeSink();
    r.hub.openTasks(stuck, null);
    r.hub.openTasks(healthy, null);
    stuck.isFull = true;
    for (let i = 0; i < 20; i++) r.tasks.emit('task', task(`t${i}`, 'assigned'));
    assert.equal(healthy.events().length, 20);
    assert.equal(stuck.events().at(-1)?.event, 'dropped');
    assert.equal(stuck.isEnded, true);
    assert.deepEqual(r.metrics.dropped, ['tasks']);
    assert.equal(r.hub.tasks.subscriberCount, 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(r.warnings.length, 1, 'the drop is logged');
  });

  test('a drop caused by a log line is logged after that line, not inside it', async (t) => {
    const logs = new LogFeed();
    const log = pino({ level: 'debug' }, logs);
    const registry = new EventEmitter<RegistryEvents>();
    const hub = new StreamHub({
      registry, tasks: new FakeTasks(), logs, log,
      metrics: { sseClientOpened: () => undefined, sseClientClosed: () => undefined, sseClientDropped: () => undefined },
      options: { ...DEFAULT_SSE_OPTIONS, clientMaxQueueEvents: 3 },
    });
    t.after(() => hub.close());
    const stuck = new FakeSink();
    const watcher = new FakeSink();
    hub.openLogs(stuck, null, 10);
    hub.openLogs(watcher, null, 10);
    stuck.isFull = true;
    for (let i = 0; i < 10; i++) log.debug({ i }, 'busy');
    await new Promise((resolve) => setImmediate(resolve));
    const ids = watcher.events().map((e) => Number(e.id));
    assert.deepEqual(ids, Array.from({ length: 11 }, (_, i) => i + 1), 'the watcher saw every line in order');
    assert.equal(JSON.parse(watcher.events().at(-1)!.data).msg, 'sse client not reading; dropped');
  });
});
