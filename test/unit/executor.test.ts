import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { silentLogger } from '../../src/common/logger.js';
import { TaskExecutor, utf8Prefix, type AssignData, type ProgressData, type ResultData } from '../../src/worker/executor.js';
import { builtinTaskTypes } from '../../src/worker/tasks/index.js';
import type { TaskContext, TaskOutcome, TaskTypeDefinition } from '../../src/worker/tasks/types.js';
import { waitFor } from '../helpers/wait.js';
import { isAlive } from '../helpers/process-state.js';

/** A test-only task type that runs whatever the test hands it. */
function scriptedType(name: string, run: (ctx: TaskContext) => Promise<TaskOutcome>): TaskTypeDefinition {
  return { name, payloadSchema: { type: 'object' }, run };
}

interface Harness {
  executor: TaskExecutor;
  progress: ProgressData[];
  results: ResultData[];
  /** `started:<id>` and `result:<id>`, in the order they happened. */
  timeline: string[];
  /** The one result of task `id` (any attempt unless given), once it exists. */
  result(id: string, attempt?: number, ms?: number): Promise<ResultData>;
  /** The output lines of task `id`, as progress events reported them. */
  lines(id: string): string[];
}

function harness(t: TestContext, opts: { maxTasks?: number; outputCapBytes?: number; extra?: TaskTypeDefinition[] } = {}): Harness {
  const types = builtinTaskTypes(new Set(['exec', 'shell']));
  for (const def of opts.extra ?? []) types.set(def.name, def);
  const progress: ProgressData[] = [];
  const results: ResultData[] = [];
  const timeline: string[] = [];
  const executor = new TaskExecutor({
    maxTasks: opts.maxTasks ?? 4,
    types,
    log: silentLogger(),
    outputCapBytes: opts.outputCapBytes,
    killGraceMs: 300,
    onProgress: (p) => {
      progress.push(p);
      if (p.event === 'started') timeline.push(`started:${p.task_id}`);
    },
    onResult: (r) => {
      results.push(r);
      timeline.push(`result:${r.task_id}`);
    },
  });
  t.after(() => executor.close(0));
  const find = (id: string, attempt?: number): ResultData | undefined =>
    results.find((r) => r.task_id === id && (attempt === undefined || r.attempt === attempt));
  return {
    executor,
    progress,
    results,
    timeline,
    result: (id, attempt, ms = 10_000) => waitFor(() => find(id, attempt), ms, `result of ${id}`),
    lines: (id) => progress.filter((p) => p.task_id === id && p.event === 'output').map((p) => p.line ?? ''),
  };
}

function assign(task_id: string, task_type: string, payload: Record<string, unknown>, extra: Partial<AssignData> = {}): AssignData {
  return { task_id, attempt: 1, task_type, payload, timeout_s: 30, ...extra };
}

function started(h: Harness, id: string): boolean {
  return h.progress.some((p) => p.task_id === id && p.event === 'started');
}


/** The pids a script printed as `pid:<n>` lines, once there are `count` of them. */
async function printedPids(h: Harness, id: string, count: number): Promise<number[]> {
  return waitFor(() => {
    const pids = h.lines(id).filter((l) => l.startsWith('pid:')).map((l) => Number(l.slice(4)));
    return pids.length >= count ? pids : null;
  }, 10_000, `${count} pids printed by ${id}`);
}

const TREE_SCRIPT = 'echo pid:$$; sleep 30 & echo pid:$!; sleep 30 & echo pid:$!; echo started; wait';

describe('TaskExecutor', () => {
  test('runs a task and reports started, output lines and the result', async (t) => {
    const h = harness(t);
    assert.deepEqual(h.executor.accept(assign('e1', 'echo', { message: 'hello\nworld' })), { ok: true });
    const r = await h.result('e1');
    assert.equal(r.status, 'succeeded');
    assert.equal(r.attempt, 1);
    assert.equal(r.result.output, 'hello\nworld');
    assert.equal(r.result.exit_code, 0);
    assert.equal(r.result.error, null);
    assert.equal(r.result.truncated, false);
    assert.ok(r.result.duration_s >= 0 && r.result.duration_s < 5);
    const events = h.progress.filter((p) => p.task_id === 'e1');
    assert.deepEqual(events, [
      { task_id: 'e1', attempt: 1, event: 'started' },
      { task_id: 'e1', attempt: 1, event: 'output', stream: 'stdout', line: 'hello', seq: 0 },
      { task_id: 'e1', attempt: 1, event: 'output', stream: 'stdout', line: 'world', seq: 1 },
    ]);
    assert.deepEqual(h.executor.running(), []);
    assert.equal(h.executor.activeCount, 0);
  });

  test('propagates the exit code: a non-zero exit fails the task', async (t) => {
    const h = harness(t);
    h.executor.accept(assign('x1', 'exec', { command: ['/bin/sh', '-c', 'echo boom; exit 3'] }));
    const r = await h.result('x1');
    assert.equal(r.status, 'failed');
    assert.equal(r.result.exit_code, 3);
    assert.equal(r.result.error, 'exited with code 3');
    assert.equal(r.result.output, 'boom\n');
  });

  test('refuses an unknown type and a payload of the wrong shape, and runs neither', async (t) => {
    const h = harness(t);
    const unknown = h.executor.accept(assign('u1', 'launch_rocket', {}));
    assert.equal(unknown.ok, false);
    assert.equal(!unknown.ok && unknown.code, 'RC_ERR_TASK_UNKNOWN_TYPE');
    const bad = h.executor.accept(assign('u2', 'exec', { command: 'ls' }));
    assert.equal(!bad.ok && bad.code, 'RC_ERR_TASK_PAYLOAD');
    assert.match(!bad.ok ? bad.message : '', /\/command must be array/);
    assert.deepEqual(h.executor.running(), []);
    assert.deepEqual(h.progress, []);
  });

  test('a timeout kills the whole process tree and the task ends timed_out', async (t) => {
    const h = harness(t);
    h.executor.accept(assign('tree', 'exec', { command: ['/bin/sh', '-c', TREE_SCRIPT] }, { timeout_s: 1 }));
    const pids = await printedPids(h, 'tree', 3);
    await waitFor(() => h.lines('tree').includes('started'), 10_000, 'the script started its children');
    for (const pid of pids) assert.ok(isAlive(pid), `pid ${pid} runs before the timeout`);
    const r = await h.result('tree');
    assert.equal(r.status, 'timed_out');
    assert.equal(r.result.error, 'timed out after 1s');
    assert.equal(r.result.exit_code, null);
    assert.ok(r.result.duration_s >= 1 && r.result.duration_s < 10, `duration ${r.result.duration_s}`);
    await waitFor(() => pids.every((pid) => !isAlive(pid)), 10_000, () => `pids ${pids.filter(isAlive).join(', ')} gone`);
  });

  test('a SIGTERM-proof child is killed after the grace period', async (t) => {
    const h = harness(t);
    // An ignored signal stays ignored across fork and exec, so the sleep ignores SIGTERM too.
    const script = `trap '' TERM; sleep 30 & echo pid:$!; echo pid:$$; wait`;
    h.executor.accept(assign('stubborn', 'shell', { script }));
    const pids = await printedPids(h, 'stubborn', 2);
    assert.ok(pids.every(isAlive));
    assert.equal(h.executor.cancel('stubborn'), true);
    const r = await h.result('stubborn');
    assert.equal(r.status, 'cancelled');
    await waitFor(() => pids.every((pid) => !isAlive(pid)), 10_000, () => `stubborn pids ${pids.filter(isAlive).join(', ')} gone`);
  });

  test('a task ends when its program exits, and what it left running is stopped', async (t) => {
    const h = harness(t);
    h.executor.accept(assign('bg', 'exec', { command: ['/bin/sh', '-c', 'sleep 30 & echo pid:$!; echo done'] }));
    const r = await h.result('bg', 1, 5000);
    assert.equal(r.status, 'succeeded');
    assert.match(r.result.output, /^pid:\d+\ndone\n$/);
    const [pid] = await printedPids(h, 'bg', 1);
    await waitFor(() => pid !== undefined && !isAlive(pid), 10_000, `leftover sleep ${pid} gone`);
  });

  test('cancel stops a running task, kills its processes and reports cancelled', async (t) => {
    const h = harness(t);
    h.executor.accept(assign('c1', 'exec', { command: ['/bin/sh', '-c', TREE_SCRIPT] }));
    const pids = await printedPids(h, 'c1', 3);
    assert.deepEqual(h.executor.running(), [{ task_id: 'c1', attempt: 1 }]);
    assert.ok(pids.every(isAlive));
    assert.equal(h.executor.cancel('c1'), true);
    const r = await h.result('c1');
    assert.equal(r.status, 'cancelled');
    assert.equal(r.result.error, 'cancelled');
    await waitFor(() => pids.every((pid) => !isAlive(pid)), 10_000, 'the cancelled tree is gone');
    assert.equal(h.executor.cancel('c1'), false, 'nothing left to cancel');
    assert.equal(h.executor.cancel('never-seen'), false);
  });

  test('cancel of a queued task reports cancelled without starting it', async (t) => {
    const h = harness(t, { maxTasks: 1 });
    h.executor.accept(assign('busy', 'sleep', { seconds: 30 }));
    h.executor.accept(assign('queued', 'echo', { message: 'never' }));
    await waitFor(() => started(h, 'busy'), 5000, 'busy started');
    assert.equal(h.executor.activeCount, 2);
    assert.equal(h.executor.cancel('queued'), true);
    const r = await h.result('queued');
    assert.equal(r.status, 'cancelled');
    assert.equal(r.result.duration_s, 0);
    assert.deepEqual(h.executor.running(), [{ task_id: 'busy', attempt: 1 }]);
    h.executor.cancel('busy');
    await h.result('busy');
    assert.equal(started(h, 'queued'), false, 'a cancelled queued task never starts');
  });

  test('runs at most maxTasks at once; the rest wait, and their timeout starts when they do', async (t) => {
    const h = harness(t, { maxTasks: 2 });
    const ids = ['s1', 's2', 's3', 's4', 's5'];
    for (const id of ids) h.executor.accept(assign(id, 'sleep', { seconds: 0.3 }, { timeout_s: 0.8 }));
    await waitFor(() => h.results.length === ids.length, 15_000, 'all sleeps done');
    let active = 0;
    let peak = 0;
    for (const event of h.timeline) {
      active += event.startsWith('started:') ? 1 : -1;
      peak = Math.max(peak, active);
    }
    assert.equal(h.timeline.length, 2 * ids.length);
    assert.equal(peak, 2, 'two ran at once, never more');
    assert.deepEqual(h.results.map((r) => r.status), ids.map(() => 'succeeded'), 'queued tasks did not time out while waiting');
    const startOrder = h.progress.filter((p) => p.event === 'started').map((p) => p.task_id);
    assert.deepEqual(startOrder, ids);
  });

  test('queued tasks start by priority, then in arrival order', async (t) => {
    const h = harness(t, { maxTasks: 1 });
    h.executor.accept(assign('first', 'sleep', { seconds: 0.2 }));
    h.executor.accept(assign('low', 'echo', { message: 'l' }, { priority: 'low' }));
    h.executor.accept(assign('normal', 'echo', { message: 'n' }));
    h.executor.accept(assign('urgent', 'echo', { message: 'u' }, { priority: 'urgent' }));
    h.executor.accept(assign('high', 'echo', { message: 'h' }, { priority: 'high' }));
    await waitFor(() => h.results.length === 5, 10_000, 'all done');
    const order = h.progress.filter((p) => p.event === 'started').map((p) => p.task_id);
    assert.deepEqual(order, ['first', 'urgent', 'high', 'normal', 'low']);
  });

  test('accepting the same attempt twice runs it once', async (t) => {
    const h = harness(t);
    const a = assign('i1', 'echo', { message: 'once' });
    assert.deepEqual(h.executor.accept(a), { ok: true });
    assert.deepEqual(h.executor.accept({ ...a }), { ok: true });
    await h.result('i1');
    await h.executor.close(1000);
    assert.equal(h.results.filter((r) => r.task_id === 'i1').length, 1);
    assert.equal(h.progress.filter((p) => p.task_id === 'i1' && p.event === 'started').length, 1);
  });

  test('a new attempt of a held task replaces the old one, which reports nothing', async (t) => {
    const h = harness(t);
    h.executor.accept(assign('r1', 'exec', { command: ['/bin/sh', '-c', 'echo pid:$$; exec sleep 30'] }));
    const [oldPid] = await printedPids(h, 'r1', 1);
    assert.ok(oldPid !== undefined);
    assert.deepEqual(h.executor.accept(assign('r1', 'echo', { message: 'second' }, { attempt: 2 })), { ok: true });
    const r = await h.result('r1', 2);
    assert.equal(r.status, 'succeeded');
    await h.executor.close(5000);
    assert.deepEqual(h.results.map((x) => [x.task_id, x.attempt]), [['r1', 2]]);
    assert.equal(isAlive(oldPid), false, 'the replaced attempt was stopped before close resolved');
  });

  test('caps the output in UTF-8 bytes, never splitting a character, and stops progress lines there', async (t) => {
    const line = 'é'.repeat(9) + '\n'; // 19 bytes
    const writer = scriptedType('writer', async (ctx) => {
      for (let i = 0; i < 100; i++) ctx.output.write(i % 2 ? 'stderr' : 'stdout', line);
      return { exit_code: 0, error: null };
    });
    const h = harness(t, { outputCapBytes: 100, extra: [writer] });
    h.executor.accept(assign('cap', 'writer', {}));
    const r = await h.result('cap');
    assert.equal(r.status, 'succeeded');
    assert.equal(r.result.truncated, true);
    const bytes = Buffer.byteLength(r.result.output);
    assert.ok(bytes <= 100, `${bytes} bytes`);
    assert.equal(bytes, 99, 'the cut fell inside an é and backed off one byte');
    assert.ok(line.repeat(100).startsWith(r.result.output));
    assert.equal(r.result.output.includes('\uFFFD'), false);
    const reported = h.lines('cap');
    assert.deepEqual(reported.slice(0, 5), ['é'.repeat(9), 'é'.repeat(9), 'é'.repeat(9), 'é'.repeat(9), 'é'.repeat(9)]);
    assert.equal(reported.length, 6, 'five full lines and the cut one, nothing after the cap');
    assert.equal(reported[5], 'é'.repeat(2));
  });

  test('caps a process that floods its output', async (t) => {
    const h = harness(t, { outputCapBytes: 4096 });
    h.executor.accept(assign('flood', 'exec', { command: ['/bin/sh', '-c', 'i=0; while [ $i -lt 2000 ]; do echo "line $i of the flood"; i=$((i+1)); done'] }));
    const r = await h.result('flood');
    assert.equal(r.status, 'succeeded');
    assert.equal(r.result.truncated, true);
    assert.ok(Buffer.byteLength(r.result.output) <= 4096);
    assert.ok(r.result.output.startsWith('line 0 of the flood\nline 1 of the flood\n'));
    assert.ok(h.lines('flood').length < 300, 'progress stopped at the cap');
  });

  test('splits output into lines per stream, keeping partial lines until a newline or the end', async (t) => {
    const writer = scriptedType('chunks', async (ctx) => {
      ctx.output.write('stdout', 'a');
      ctx.output.write('stderr', 'e1');
      ctx.output.write('stdout', 'b\r\nc');
      ctx.output.write('stderr', '\n');
      ctx.output.write('stdout', '\ntail');
      return { exit_code: 0, error: null };
    });
    const h = harness(t, { extra: [writer] });
    h.executor.accept(assign('lines', 'chunks', {}));
    const r = await h.result('lines');
    assert.equal(r.result.output, 'ae1b\r\nc\n\ntail', 'the combined output as written');
    const output = h.progress.filter((p) => p.event === 'output').map((p) => [p.stream, p.line, p.seq]);
    assert.deepEqual(output, [['stdout', 'ab', 0], ['stderr', 'e1', 1], ['stdout', 'c', 2], ['stdout', 'tail', 3]]);
  });

  test('a task type that throws or returns garbage fails, and a throwing handler does not break the executor', async (t) => {
    const throwsAsync = scriptedType('throws_async', async () => {
      throw new Error('broken plugin');
    });
    const throwsSync = scriptedType('throws_sync', () => {
      throw new Error('broken at once');
    });
    const garbage = scriptedType('garbage', async () => 42 as unknown as TaskOutcome);
    const h = harness(t, { extra: [throwsAsync, throwsSync, garbage] });
    h.executor.accept(assign('ta', 'throws_async', {}));
    h.executor.accept(assign('ts', 'throws_sync', {}));
    h.executor.accept(assign('tg', 'garbage', {}));
    assert.deepEqual([(await h.result('ta')).status, (await h.result('ta')).result.error], ['failed', 'broken plugin']);
    assert.deepEqual([(await h.result('ts')).status, (await h.result('ts')).result.error], ['failed', 'broken at once']);
    assert.deepEqual([(await h.result('tg')).status, (await h.result('tg')).result.error], ['failed', 'task type returned no outcome']);

    let calls = 0;
    const fragile = new TaskExecutor({
      maxTasks: 1,
      types: builtinTaskTypes(new Set()),
      log: silentLogger(),
      onProgress: () => {
        throw new Error('progress sink down');
      },
      onResult: () => {
        calls++;
        throw new Error('result sink down');
      },
    });
    fragile.accept(assign('f1', 'echo', { message: 'x\n' }));
    fragile.accept(assign('f2', 'echo', { message: 'y\n' }));
    await waitFor(() => calls === 2, 5000, 'both results handed over');
    await fragile.close(0);
  });

  test('close waits for running tasks within the grace, then cancels the rest, and refuses new work', async (t) => {
    const h = harness(t, { maxTasks: 1 });
    h.executor.accept(assign('quick', 'sleep', { seconds: 0.1 }));
    const closed = h.executor.close(3000);
    assert.equal(h.executor.close(3000), closed, 'close is idempotent');
    const refused = h.executor.accept(assign('late', 'echo', { message: 'x' }));
    assert.equal(!refused.ok && refused.code, 'RC_ERR_TASK_WORKER_CLOSING');
    await closed;
    assert.deepEqual(h.results.map((r) => [r.task_id, r.status]), [['quick', 'succeeded']]);

    const h2 = harness(t, { maxTasks: 1 });
    h2.executor.accept(assign('long', 'exec', { command: ['/bin/sh', '-c', 'echo pid:$$; exec sleep 30'] }));
    h2.executor.accept(assign('waiting', 'echo', { message: 'x' }));
    const [pid] = await printedPids(h2, 'long', 1);
    await h2.executor.close(50);
    const byId = new Map(h2.results.map((r) => [r.task_id, r]));
    assert.equal(byId.get('long')?.status, 'cancelled');
    assert.equal(byId.get('long')?.result.error, 'worker shutting down');
    assert.equal(byId.get('waiting')?.status, 'cancelled');
    assert.equal(byId.get('waiting')?.result.error, 'worker shutting down');
    assert.equal(h2.results.length, 2);
    assert.deepEqual(h2.executor.running(), []);
    await waitFor(() => pid !== undefined && !isAlive(pid), 10_000, 'the long task process is gone');
  });
});

test('utf8Prefix cuts on character boundaries', () => {
  assert.equal(utf8Prefix('abc', 10), 'abc');
  assert.equal(utf8Prefix('abc', 2), 'ab');
  assert.equal(utf8Prefix('aé', 2), 'a', 'é is two bytes');
  assert.equal(utf8Prefix('a😀b', 4), 'a', 'the emoji is four bytes');
  assert.equal(utf8Prefix('a😀b', 5), 'a😀');
  assert.equal(utf8Prefix('€', 0), '');
});
