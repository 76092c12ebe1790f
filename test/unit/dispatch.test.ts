import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { planDispatch, taskSignature } from '../../src/scheduler/dispatch.js';
import { TaskQueue } from '../../src/scheduler/queue.js';
import { DEFAULT_WEIGHTS, type DeviceSnapshot, type DispatchOptions, type QueuedTask } from '../../src/scheduler/types.js';
import { explainWait, MAX_WAIT_REASON_CHARS } from '../../src/scheduler/wait-reason.js';
import type { Priority, TaskRequirements } from '../../src/store/store.js';

const NOW = 1_800_000_000_000;

function device(id: string, over: Partial<DeviceSnapshot> = {}): DeviceSnapshot {
  return {
    device_id: id, state: 'online', drained: false, unstable: false, paused: false, pause_reason: null, connected: true,
    role: 'worker', tags: [], platform: 'linux', arch: 'arm64', cpu_count: 4, memory_total_gb: 4, storage_total_gb: 32, gpu: false,
    task_types: ['echo', 'exec'], max_tasks: 2, active_tasks: 0,
    cpu_usage: 10, memory_usage: 10, battery_percent: null, charging: null, health: 1, last_assigned_ms: 0,
    ...over,
  };
}

let nextSeq = 0;
function task(id: string, priority: Priority = 'normal', requirements: TaskRequirements = {}, over: Partial<QueuedTask> = {}): QueuedTask {
  return { task_id: id, task_type: 'echo', priority, requirements, seq: nextSeq++, enqueued_ms: NOW, not_before_ms: null, ...over };
}

function queueOf(...tasks: QueuedTask[]): TaskQueue {
  const q = new TaskQueue();
  for (const t of tasks) q.add(t);
  return q;
}

function opts(over: Partial<DispatchOptions> = {}): DispatchOptions {
  return { now_ms: NOW, weights: DEFAULT_WEIGHTS, aging_step_ms: 60_000, aging_max_priority: 'high', max_assignments: 100, ...over };
}

/** task_id → device_id, in assignment order. */
function placed(q: TaskQueue, devices: DeviceSnapshot[], o = opts()): Array<[string, string]> {
  return planDispatch(q, devices, o).assignments.map((a) => [a.task_id, a.device_id]);
}

describe('planDispatch', () => {
  test('an urgent task needing 64 GB does not block normal tasks that fit (no head-of-line blocking)', () => {
    const q = queueOf(task('big', 'urgent', { min_memory_gb: 64 }), task('big-2', 'urgent', { min_memory_gb: 64 }), task('n1'), task('n2'));
    const plan = planDispatch(q, [device('pi-1')], opts());
    assert.deepEqual(plan.assignments, [{ task_id: 'n1', device_id: 'pi-1' }, { task_id: 'n2', device_id: 'pi-1' }]);
    assert.deepEqual([...plan.waiting.keys()], ['big', 'big-2']);
    assert.equal(plan.waiting.get('big'), 'no online device has ≥ 64 GB memory (1 online: 4 GB)');
    assert.equal(plan.waiting.get('big-2'), plan.waiting.get('big'));
  });

  test('higher priority is placed first when slots are scarce', () => {
    const q = queueOf(task('low', 'low'), task('normal'), task('urgent', 'urgent'));
    assert.deepEqual(placed(q, [device('pi-1', { max_tasks: 1 })]), [['urgent', 'pi-1']]);
  });

  test('prefers the less loaded device', () => {
    const q = queueOf(task('t1'));
    const devices = [device('busy', { cpu_usage: 90, memory_usage: 85 }), device('calm', { cpu_usage: 5, memory_usage: 20 })];
    assert.deepEqual(placed(q, devices), [['t1', 'calm']]);
  });

  test('a tie goes to the least recently assigned device, and assignments in one pass spread', () => {
    const q = queueOf(task('t1'), task('t2'), task('t3'));
    const devices = [device('a', { last_assigned_ms: NOW - 10 }), device('b', { last_assigned_ms: NOW - 20 }), device('c', { last_assigned_ms: NOW - 5 })];
    assert.deepEqual(placed(q, devices), [['t1', 'b'], ['t2', 'a'], ['t3', 'c']]);
  });

  test('a device assigned earlier in the pass counts as most recently assigned', () => {
    const cpuOnly = { cpu: 1, memory: 0, active_tasks: 0, health: 0 };
    const q = queueOf(task('t1'), task('t2'), task('t3'));
    // t3: both were assigned at now_ms, so the id decides.
    const devices = [device('a', { last_assigned_ms: NOW - 10 }), device('b', { last_assigned_ms: NOW - 20 })];
    assert.deepEqual(placed(q, devices, opts({ weights: cpuOnly })), [['t1', 'b'], ['t2', 'a'], ['t3', 'a']]);
  });

  test('respects max_tasks across one pass', () => {
    const q = queueOf(...Array.from({ length: 6 }, (_, i) => task(`t${i}`)));
    const devices = [device('a', { max_tasks: 2, active_tasks: 1 }), device('b', { max_tasks: 2 })];
    const plan = planDispatch(q, devices, opts());
    const perDevice = new Map<string, number>();
    for (const a of plan.assignments) perDevice.set(a.device_id, (perDevice.get(a.device_id) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(perDevice), { a: 1, b: 2 });
  });

  test('does not mutate the device snapshots or the queue', () => {
    const devices = [device('a', { max_tasks: 3 })];
    const before = structuredClone(devices);
    const q = queueOf(task('t1'), task('t2'));
    planDispatch(q, devices, opts());
    assert.deepEqual(devices, before);
    assert.equal(q.size, 2);
  });

  test('a task in retry backoff is skipped without a reason until not_before_ms', () => {
    const q = queueOf(task('retry', 'urgent', {}, { not_before_ms: NOW + 1 }), task('fresh'));
    const early = planDispatch(q, [device('a', { max_tasks: 1 })], opts());
    assert.deepEqual(early.assignments, [{ task_id: 'fresh', device_id: 'a' }]);
    assert.equal(early.waiting.has('retry'), false);
    const due = planDispatch(queueOf(task('retry', 'urgent', {}, { not_before_ms: NOW })), [device('a')], opts());
    assert.deepEqual(due.assignments, [{ task_id: 'retry', device_id: 'a' }]);
  });

  test('a pinned task goes to its device only, even when another is better', () => {
    const q = queueOf(task('pinned', 'normal', { device_id: 'slow' }));
    const devices = [device('fast', { cpu_usage: 0 }), device('slow', { cpu_usage: 95 })];
    assert.deepEqual(placed(q, devices), [['pinned', 'slow']]);
  });

  test('a task pinned to an offline device waits with that reason', () => {
    const q = queueOf(task('pinned', 'normal', { device_id: 'pi-1' }));
    const plan = planDispatch(q, [device('pi-1', { state: 'offline', connected: false }), device('pi-2')], opts());
    assert.deepEqual(plan.assignments, []);
    assert.equal(plan.waiting.get('pinned'), 'device pi-1 is offline');
  });

  test('stops at max_assignments and leaves the rest without a new reason', () => {
    const q = queueOf(task('t1'), task('t2'), task('t3'));
    const plan = planDispatch(q, [device('a', { max_tasks: 10 })], opts({ max_assignments: 2 }));
    assert.deepEqual(plan.assignments.map((a) => a.task_id), ['t1', 't2']);
    assert.equal(plan.waiting.size, 0);
  });

  test('tasks that would fit but find every slot taken in this pass wait as busy', () => {
    const q = queueOf(task('t1'), task('t2'), task('t3'));
    const plan = planDispatch(q, [device('a', { max_tasks: 2 })], opts());
    assert.deepEqual(plan.assignments.map((a) => a.task_id), ['t1', 't2']);
    assert.equal(plan.waiting.get('t3'), 'the only matching device (a) is busy (2/2 slots in use)');
  });

  test('with no free slot, only max_explained waiting tasks get a reason, first in dispatch order', () => {
    const q = queueOf(task('l1', 'low'), task('n1'), task('n2'), task('u1', 'urgent'));
    const plan = planDispatch(q, [device('a', { active_tasks: 2 })], opts({ max_explained: 2 }));
    assert.deepEqual(plan.assignments, []);
    assert.deepEqual([...plan.waiting.keys()], ['u1', 'n1']);
  });

  test('with no device online every explained task says so', () => {
    const q = queueOf(task('t1'), task('t2', 'high', { min_memory_gb: 2 }));
    const plan = planDispatch(q, [device('a', { state: 'offline', connected: false })], opts());
    assert.deepEqual(Object.fromEntries(plan.waiting), { t1: 'no device is online', t2: 'no device is online' });
  });

  test('an old low task aged to high is placed before a fresh normal one', () => {
    const q = queueOf(task('fresh-normal'), task('old-low', 'low', {}, { enqueued_ms: NOW - 2 * 60_000 }));
    assert.deepEqual(placed(q, [device('a', { max_tasks: 1 })]), [['old-low', 'a']]);
  });

  test('the caller can remove assigned tasks and run the next pass', () => {
    const q = queueOf(task('t1'), task('t2'), task('t3'));
    const devices = [device('a', { max_tasks: 1 })];
    const first = planDispatch(q, devices, opts());
    for (const a of first.assignments) q.remove(a.task_id);
    const second = planDispatch(q, [device('a', { max_tasks: 2, active_tasks: 1 })], opts());
    assert.deepEqual(second.assignments.map((a) => a.task_id), ['t2']);
  });

  test('places a 100,000-task queue across devices in one pass', () => {
    const q = new TaskQueue();
    for (let i = 0; i < 100_000; i++) q.add(task(`t${i}`, i % 10 === 0 ? 'urgent' : 'normal', i % 3 === 0 ? { min_memory_gb: 64 } : {}));
    const devices = Array.from({ length: 20 }, (_, i) => device(`d${i}`, { max_tasks: 4 }));
    const plan = planDispatch(q, devices, opts({ max_assignments: 1000 }));
    assert.equal(plan.assignments.length, 80);
    assert.ok(plan.assignments.every((a) => Number(a.task_id.slice(1)) % 3 !== 0), 'none of the 64 GB tasks placed');
  });
});

describe('taskSignature', () => {
  test('ignores the order of keys and tags, but not their values or the type', () => {
    assert.equal(taskSignature('echo', { tags: ['a', 'b'], gpu: true }), taskSignature('echo', { gpu: true, tags: ['b', 'a'] }));
    assert.notEqual(taskSignature('echo', { gpu: true }), taskSignature('echo', { gpu: false }));
    assert.notEqual(taskSignature('echo', {}), taskSignature('exec', {}));
    assert.notEqual(taskSignature('echo', { role: 'a' }), taskSignature('echo', { platform: 'a' }));
  });
});

describe('explainWait', () => {
  test('no device at all, or none online', () => {
    assert.equal(explainWait('echo', {}, []), 'no device is online (none registered)');
    assert.equal(explainWait('echo', {}, [device('a', { state: 'offline', connected: false }), device('b', { state: 'suspect' }), device('c', { connected: false })]), 'no device is online');
  });

  test('shell gets a hint on how to allow it; other types do not', () => {
    const devices = [device('a'), device('b')];
    assert.equal(explainWait('shell', {}, devices), 'no online device accepts task type "shell" (start a worker with --allow shell)');
    assert.equal(explainWait('render', {}, devices), 'no online device accepts task type "render"');
  });

  test('one cause on every device lists what the devices have', () => {
    const devices = [device('a', { memory_total_gb: 4 }), device('b', { memory_total_gb: 4 }), device('c', { memory_total_gb: 2 }), device('off', { state: 'offline', connected: false, memory_total_gb: 1 })];
    assert.equal(explainWait('echo', { min_memory_gb: 8 }, devices), 'no online device has ≥ 8 GB memory (3 online: 4, 4, 2 GB)');
    assert.equal(explainWait('echo', { min_cpu_cores: 8 }, [device('a', { cpu_count: null })]), 'no online device has ≥ 8 CPU cores (1 online: ?)');
    assert.equal(explainWait('echo', { platform: 'android' }, devices), 'no online device has platform android (3 online: linux)');
    assert.equal(explainWait('echo', { tags: ['cuda'] }, devices), 'no online device has all tags cuda');
    assert.equal(explainWait('echo', { gpu: true }, devices), 'no online device has a GPU');
  });

  test('different causes are summarised, most common first, with counts', () => {
    const devices = [
      device('d', { memory_total_gb: 16, tags: [] }),
      device('c', { task_types: ['exec'], tags: ['python'] }),
      device('a', { memory_total_gb: 2, tags: ['python'] }),
      device('b', { memory_total_gb: 2, tags: ['python'] }),
    ];
    assert.equal(
      explainWait('echo', { min_memory_gb: 8, tags: ['python'] }, devices),
      'none of 4 online devices fits: memory < 8 GB (2), missing tags (1), task type "echo" not accepted (1)',
    );
  });

  test('names an offline device that would fit', () => {
    const devices = [device('small'), device('big', { state: 'offline', connected: false, memory_total_gb: 16 })];
    assert.equal(explainWait('echo', { min_memory_gb: 8 }, devices), 'no online device has ≥ 8 GB memory (1 online: 4 GB); would fit offline device big');
  });

  test('every matching device busy', () => {
    const devices = [device('a', { active_tasks: 2 }), device('b', { active_tasks: 2 }), device('c', { memory_total_gb: 1 })];
    assert.equal(explainWait('echo', { min_memory_gb: 2 }, devices), 'all 2 matching devices are busy (4/4 slots in use)');
  });

  test('every matching device drained or paused', () => {
    const devices = [device('phone-1', { paused: true, battery_percent: 28 }), device('pi-1', { drained: true })];
    assert.equal(explainWait('echo', {}, devices), 'all matching devices are drained or paused (phone-1: paused (battery 28%), pi-1: drained)');
    assert.equal(explainWait('echo', {}, [device('p', { paused: true, pause_reason: 'too hot' })]), 'all matching devices are drained or paused (p: paused (too hot))');
  });

  test('a mix of busy and paused devices', () => {
    const devices = [device('a', { active_tasks: 2 }), device('phone-1', { paused: true, pause_reason: 'battery 12%' })];
    assert.equal(explainWait('echo', {}, devices), 'all 2 matching devices are busy, drained or paused (1 busy, 2/2 slots in use; phone-1: paused (battery 12%))');
  });

  test('pinned tasks talk about their device', () => {
    const reason = (over: Partial<DeviceSnapshot>, req: TaskRequirements = {}): string => explainWait('echo', { device_id: 'pi-1', ...req }, [device('pi-1', over), device('pi-2')]);
    assert.equal(explainWait('echo', { device_id: 'pi-9' }, [device('pi-1')]), 'device pi-9 is not registered');
    assert.equal(reason({ state: 'offline' }), 'device pi-1 is offline');
    assert.equal(reason({ state: 'suspect' }), 'device pi-1 is suspect');
    assert.equal(reason({ connected: false }), 'device pi-1 is not connected');
    assert.equal(reason({}, { min_memory_gb: 8 }), 'device pi-1 does not fit: memory 4 GB < 8 GB');
    assert.equal(reason({ drained: true }), 'device pi-1 is drained');
    assert.equal(reason({ active_tasks: 2 }), 'device pi-1 is busy (2/2 slots in use)');
  });

  test('is never longer than 200 characters', () => {
    const many = Array.from({ length: 50 }, (_, i) => device(`a-device-with-a-rather-long-name-${i}`, { paused: true, pause_reason: 'battery low and it is getting quite warm' }));
    const reason = explainWait('echo', {}, many);
    assert.equal(MAX_WAIT_REASON_CHARS, 200);
    assert.equal(reason.length, 200);
    assert.ok(reason.endsWith('…'));
  });
});
