import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveLevel, TaskQueue } from '../../src/scheduler/queue.js';
import type { QueuedTask } from '../../src/scheduler/types.js';
import { PRIORITIES, type Priority } from '../../src/store/store.js';

const T0 = 1_800_000_000_000;
const STEP = 60_000;

let nextSeq = 0;
function task(id: string, priority: Priority, enqueuedMs = T0, over: Partial<QueuedTask> = {}): QueuedTask {
  return { task_id: id, task_type: 'echo', priority, requirements: {}, seq: nextSeq++, enqueued_ms: enqueuedMs, not_before_ms: null, ...over };
}

function queueOf(...tasks: QueuedTask[]): TaskQueue {
  const q = new TaskQueue();
  for (const t of tasks) q.add(t);
  return q;
}

function order(q: TaskQueue, now = T0, step = STEP, max: Priority = 'high'): string[] {
  return [...q.ordered(now, step, max)].map((t) => t.task_id);
}

describe('TaskQueue bookkeeping', () => {
  test('add, has, get, remove and size', () => {
    const q = queueOf(task('a', 'low'), task('b', 'urgent'));
    assert.equal(q.size, 2);
    assert.equal(q.has('a'), true);
    assert.equal(q.get('b')?.priority, 'urgent');
    assert.equal(q.remove('a'), true);
    assert.equal(q.remove('a'), false);
    assert.equal(q.has('a'), false);
    assert.equal(q.size, 1);
    assert.deepEqual(order(q), ['b']);
  });

  test('sizeByPriority counts each level', () => {
    const q = queueOf(task('a', 'low'), task('b', 'low'), task('c', 'high'));
    assert.deepEqual(q.sizeByPriority(), { low: 2, normal: 0, high: 1, urgent: 0 });
  });

  test('adding a queued id again replaces the task', () => {
    const q = queueOf(task('a', 'low'), task('b', 'normal'));
    q.add(task('a', 'urgent'));
    assert.equal(q.size, 2);
    assert.deepEqual(q.sizeByPriority(), { low: 0, normal: 1, high: 0, urgent: 1 });
    assert.deepEqual(order(q), ['a', 'b']);
  });
});

describe('TaskQueue.ordered without aging', () => {
  test('priority is strict across levels', () => {
    const q = queueOf(task('low', 'low'), task('normal', 'normal'), task('urgent', 'urgent'), task('high', 'high'));
    assert.deepEqual(order(q, T0, 0), ['urgent', 'high', 'normal', 'low']);
  });

  test('FIFO within a level, by seq', () => {
    const q = queueOf(task('n1', 'normal'), task('h1', 'high'), task('n2', 'normal'), task('h2', 'high'), task('n3', 'normal'));
    assert.deepEqual(order(q, T0, 0), ['h1', 'h2', 'n1', 'n2', 'n3']);
  });

  test('an aging step of 0 never ages, however long a task waited', () => {
    const q = queueOf(task('old-low', 'low', T0 - 1e9), task('new-normal', 'normal', T0 - 1));
    assert.deepEqual(order(q, T0, 0), ['new-normal', 'old-low']);
    assert.equal(effectiveLevel(task('x', 'low', T0 - 1e9), T0, 0, 3), 0);
    assert.equal(effectiveLevel(task('x', 'low', T0 - 1e9), T0, -1, 3), 0, 'a negative step is no aging too');
  });

  test('tasks added with a smaller seq than the tail are still yielded in seq order', () => {
    const q = queueOf(task('b', 'normal', T0, { seq: 20 }), task('c', 'normal', T0, { seq: 30 }), task('a', 'normal', T0, { seq: 10 }));
    assert.deepEqual(order(q, T0, 0), ['a', 'b', 'c']);
    q.add(task('d', 'normal', T0, { seq: 40 }));
    assert.deepEqual(order(q, T0, 0), ['a', 'b', 'c', 'd']);
  });
});

describe('TaskQueue.ordered with aging', () => {
  test('effectiveLevel: one level per full step, capped, never below its own', () => {
    const at = (p: Priority, waitedMs: number, max = 2): number => effectiveLevel(task('x', p, T0 - waitedMs), T0, STEP, max);
    assert.equal(at('low', 0), 0);
    assert.equal(at('low', STEP - 1), 0);
    assert.equal(at('low', STEP), 1);
    assert.equal(at('low', 2 * STEP), 2);
    assert.equal(at('low', 100 * STEP), 2);
    assert.equal(at('urgent', 100 * STEP), 3);
    assert.equal(at('high', 0, 1), 2, 'above the cap keeps its own level');
    assert.equal(at('normal', -5 * STEP), 1, 'enqueued in the future (clock step) keeps its own level');
  });

  test('an old low task passes a fresh normal one only after enough steps', () => {
    const oneStep = queueOf(task('old-low', 'low', T0 - STEP), task('new-normal', 'normal', T0));
    // Equal effective level (normal): FIFO by seq, and old-low was queued first.
    assert.deepEqual(order(oneStep), ['old-low', 'new-normal']);
    const almost = queueOf(task('old-low', 'low', T0 - STEP + 1), task('new-normal', 'normal', T0));
    assert.deepEqual(order(almost), ['new-normal', 'old-low']);
    const twoSteps = queueOf(task('new-normal', 'normal', T0), task('old-low', 'low', T0 - 2 * STEP, { seq: 1e6 }));
    assert.deepEqual(order(twoSteps), ['old-low', 'new-normal'], 'at high it passes normal despite a larger seq');
  });

  test('aging never lifts a task above urgent, nor above the cap', () => {
    const q = queueOf(task('ancient-low', 'low', T0 - 1e9), task('fresh-urgent', 'urgent', T0));
    assert.deepEqual(order(q), ['fresh-urgent', 'ancient-low']);
    const capNormal = queueOf(task('ancient-low', 'low', T0 - 1e9), task('fresh-high', 'high', T0));
    assert.deepEqual(order(capNormal, T0, STEP, 'normal'), ['fresh-high', 'ancient-low']);
  });

  test('an aged task ties with fresh tasks of its new level and goes by seq', () => {
    const q = queueOf(task('h1', 'high', T0), task('old-low', 'low', T0 - 10 * STEP), task('h2', 'high', T0));
    assert.deepEqual(order(q), ['h1', 'old-low', 'h2']);
  });

  test('merges four aged lanes in (effective level, seq) order', () => {
    const q = new TaskQueue();
    const tasks: QueuedTask[] = [];
    for (let i = 0; i < 400; i++) {
      // Enqueue times rise with seq; priorities cycle.
      const t = task(`t${i}`, PRIORITIES[(i * 7) % 4] as Priority, T0 - (400 - i) * (STEP / 10));
      tasks.push(t);
      q.add(t);
    }
    const rank = (t: QueuedTask): number => effectiveLevel(t, T0, STEP, 2);
    const expected = [...tasks].sort((a, b) => rank(b) - rank(a) || a.seq - b.seq).map((t) => t.task_id);
    assert.deepEqual(order(q), expected);
    assert.notDeepEqual(expected, [...tasks].sort((a, b) => PRIORITIES.indexOf(b.priority) - PRIORITIES.indexOf(a.priority) || a.seq - b.seq).map((t) => t.task_id), 'aging changes the order here');
  });

  test('stays correct when enqueue times do not rise with seq (clock stepped back)', () => {
    const q = queueOf(task('late', 'low', T0), task('early', 'low', T0 - 3 * STEP), task('n', 'normal', T0));
    assert.deepEqual(order(q), ['early', 'n', 'late']);
    q.remove('early');
    assert.deepEqual(order(q), ['n', 'late']);
  });
});

describe('TaskQueue.ordered with removal during iteration', () => {
  test('removing each yielded task (as the dispatcher does) still yields every task once', () => {
    const q = queueOf(task('a', 'low'), task('b', 'urgent'), task('c', 'normal'), task('d', 'urgent'));
    const seen: string[] = [];
    for (const t of q.ordered(T0, STEP, 'high')) {
      seen.push(t.task_id);
      assert.equal(q.remove(t.task_id), true);
    }
    assert.deepEqual(seen, ['b', 'd', 'c', 'a']);
    assert.equal(q.size, 0);
  });

  test('a task removed before it is reached is never yielded, even a lane head', () => {
    const q = queueOf(task('u1', 'urgent'), task('n1', 'normal'), task('n2', 'normal'), task('l1', 'low'));
    const seen: string[] = [];
    for (const t of q.ordered(T0, STEP, 'high')) {
      seen.push(t.task_id);
      if (t.task_id === 'u1') {
        q.remove('n1'); // the normal lane's current head
        q.remove('l1');
      }
    }
    assert.deepEqual(seen, ['u1', 'n2']);
  });

  test('a task replaced during iteration is not yielded in its old form', () => {
    const q = queueOf(task('a', 'high'), task('b', 'normal'));
    const seen: string[] = [];
    for (const t of q.ordered(T0, 0, 'high')) {
      seen.push(`${t.task_id}:${t.priority}`);
      if (t.task_id === 'a') q.add(task('b', 'low'));
    }
    assert.equal(seen[0], 'a:high');
    assert.equal(seen.includes('b:normal'), false);
  });

  test('an abandoned iteration leaves the queue intact', () => {
    const q = queueOf(task('a', 'normal'), task('b', 'normal'));
    for (const t of q.ordered(T0, STEP, 'high')) {
      assert.equal(t.task_id, 'a');
      break;
    }
    assert.deepEqual(order(q), ['a', 'b']);
  });
});

describe('TaskQueue at scale', () => {
  test('100,000 tasks are added and fully iterated in order', () => {
    const q = new TaskQueue();
    const N = 100_000;
    for (let i = 0; i < N; i++) q.add(task(`t${i}`, PRIORITIES[i % 4] as Priority, T0 - (N - i)));
    assert.equal(q.size, N);
    assert.deepEqual(q.sizeByPriority(), { low: N / 4, normal: N / 4, high: N / 4, urgent: N / 4 });
    // Enqueued up to 100 s ago with a 60 s step: the older 40 % have aged one level.
    const rank = (t: QueuedTask): number => effectiveLevel(t, T0, STEP, 2);
    let count = 0;
    let aged = 0;
    let prev: QueuedTask | undefined;
    for (const t of q.ordered(T0, STEP, 'high')) {
      if (rank(t) > PRIORITIES.indexOf(t.priority)) aged++;
      if (prev !== undefined) {
        const inOrder = rank(prev) - rank(t) || t.seq - prev.seq;
        assert.ok(inOrder > 0, `${prev.task_id} before ${t.task_id}`);
      }
      prev = t;
      count++;
    }
    assert.equal(count, N);
    assert.ok(aged > 0 && aged < N, `some but not all tasks aged (${aged})`);
    for (let i = 0; i < N; i += 2) q.remove(`t${i}`);
    assert.equal(q.size, N / 2);
    assert.equal([...q.ordered(T0, STEP, 'high')].length, N / 2);
  });
});
