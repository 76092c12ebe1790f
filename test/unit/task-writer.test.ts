import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreError } from '../../src/common/errors.js';
import { newTaskRecord } from '../../src/master/tasks/task-spec.js';
import { openStore, STORE_FILE_NAME } from '../../src/store/index.js';
import type { Store, TaskRecord } from '../../src/store/store.js';
import { TaskWriter } from '../../src/store/task-writer.js';
import { captureLog, defer, makeTempDir } from '../helpers/store.js';
import { waitFor } from '../helpers/wait.js';

function openWithWriter(t: Parameters<typeof makeTempDir>[0], maxSizeBytes: number | null = null): Store {
  const store = openStore(makeTempDir(t), captureLog(), { backgroundWrites: true, maxSizeBytes });
  defer(t, () => store.close());
  return store;
}

function tasks(n: number, label = 'x'): TaskRecord[] {
  return Array.from({ length: n }, (_, i) => newTaskRecord({ task_type: 'echo', payload: { message: `${label}-${i}` }, requirements: {} }, 1_000 + i));
}

function finish(task: TaskRecord, output: string): void {
  Object.assign(task, { status: 'succeeded', device_id: 'd1', attempts: 1, finished_at_ms: 2_000, result: { output, exit_code: 0, error: null, duration_s: 0, truncated: false } });
}

test('background commits land in order, answer through done, and reads wait for them', async (t) => {
  const store = openWithWriter(t);
  const [a] = tasks(1);
  store.commitTaskChanges({ inserts: [a!] });
  Object.assign(a!, { status: 'assigned', device_id: 'd1', attempts: 1 });
  const answers: Array<Error | null> = [];
  assert.equal(store.commitTaskChangesInBackground!({ updates: [a!] }, (err) => answers.push(err)), true);
  // The row was copied when posted: this later change belongs to the next commit only.
  finish(a!, 'first');
  assert.equal(store.commitTaskChangesInBackground!({ updates: [a!], events: [{ task_id: a!.task_id, ts_ms: 2_000, kind: 'note', attempt: 1, device_id: 'd1', detail: { n: 1 } }] }, (err) => answers.push(err)), true);
  const read = store.getTask(a!.task_id);
  assert.deepEqual(answers, [null, null], 'a read settles every commit posted before it, callbacks first');
  assert.equal(read?.status, 'succeeded');
  assert.equal(read?.result?.output, 'first');
  assert.deepEqual(store.taskEvents(a!.task_id, 10).map((e) => e.kind), ['note']);
});

test('settleTaskCommits waits for commits the event loop has not seen answered yet', (t) => {
  const store = openWithWriter(t);
  const batch = tasks(500);
  store.commitTaskChanges({ inserts: batch });
  let done = 0;
  for (const task of batch) {
    finish(task, task.task_id);
    store.commitTaskChangesInBackground!({ updates: [task] }, (err) => {
      assert.equal(err, null);
      done++;
    });
  }
  store.settleTaskCommits!();
  assert.equal(done, 500);
  assert.equal(store.countTasksByStatus().succeeded, 500);
});

test('a background commit the store refuses (disk full) fails through done with a StoreError; the store stays usable', async (t) => {
  const store = openWithWriter(t, 512 * 1024);
  let err: Error | null | undefined;
  const big = tasks(1)[0]!;
  store.commitTaskChanges({ inserts: [big] });
  finish(big, 'y'.repeat(1024 * 1024));
  store.commitTaskChangesInBackground!({ updates: [big] }, (e) => (err = e));
  await waitFor(() => err !== undefined, 5000, 'the writer answered');
  assert.ok(err instanceof StoreError, `a StoreError, got ${String(err)}`);
  assert.match(err.message, /SQLITE_FULL|full/);
  assert.equal(store.getTask(big.task_id)?.status, 'queued', 'nothing of the failed commit was written');
  finish(big, 'small');
  let ok: Error | null | undefined;
  store.commitTaskChangesInBackground!({ updates: [big] }, (e) => (ok = e));
  store.settleTaskCommits!();
  assert.equal(ok, null);
  assert.equal(store.getTask(big.task_id)?.result?.output, 'small');
});

test('without backgroundWrites the store says so and callers commit on the main connection', (t) => {
  const store = openStore(makeTempDir(t), captureLog());
  defer(t, () => store.close());
  assert.equal(store.commitTaskChangesInBackground!({ updates: [] }, () => undefined), false);
});

test('close settles what is in flight before the connection closes', (t) => {
  const dir = makeTempDir(t);
  const store = openStore(dir, captureLog(), { backgroundWrites: true });
  const batch = tasks(200);
  store.commitTaskChanges({ inserts: batch });
  for (const task of batch) finish(task, 'z');
  store.commitTaskChangesInBackground!({ updates: batch }, () => undefined);
  store.close();
  const again = openStore(dir, captureLog());
  defer(t, () => again.close());
  assert.equal(again.countTasksByStatus().succeeded, 200);
});

test('with background checkpoints the writer thread also checkpoints: the WAL stays small while the main connection never checkpoints', async (t) => {
  const dir = makeTempDir(t);
  const store = openStore(dir, captureLog(), { backgroundWrites: true, backgroundCheckpoints: true });
  defer(t, () => store.close());
  const wal = path.join(dir, STORE_FILE_NAME + '-wal');
  let largest = 0;
  for (let round = 0; round < 6; round++) {
    // About 2 MB per round; six rounds would leave a 12 MB WAL if nobody checkpointed.
    store.commitTaskChanges({ inserts: tasks(200, `r${round}`).map((task) => ({ ...task, payload: { message: 'p'.repeat(10_000) } })) });
    largest = Math.max(largest, fs.statSync(wal).size);
    await sleep(700);
  }
  assert.ok(largest < 6 * 1024 * 1024, `the WAL was reset after checkpoints (largest ${(largest / 1048576).toFixed(1)} MB)`);
  assert.equal(store.countTasksByStatus().queued, 1200);
});

test('a writer thread that dies fails what was in flight, says so once, and takes no more commits', async (t) => {
  const log = captureLog();
  let unavailable = 0;
  const writer = new TaskWriter(log, () => unavailable++);
  // The thread opens the file with fileMustExist: a missing database kills it right after it starts.
  writer.start(path.join(makeTempDir(t), 'missing.db'), { busyTimeoutMs: 100, maxPageCount: null, checkpointEveryMs: null });
  assert.equal(writer.available, true, 'the thread was started');
  let answer: Error | null | undefined;
  assert.equal(writer.commit([], [], (err) => (answer = err)), true);
  await waitFor(() => answer !== undefined, 5000, 'the in-flight commit was answered');
  assert.ok(answer instanceof Error, 'with an error, so the caller keeps and retries its rows');
  assert.equal(writer.available, false);
  assert.equal(unavailable, 1, 'the store is told once (it resumes its own checkpoints)');
  assert.equal(writer.commit([], [], () => undefined), false, 'later commits go to the main connection');
  assert.ok(log.entries.some((e) => e.level === 'warn' && /writer thread unavailable/.test(e.msg ?? '')));
  writer.settle(); // nothing pending: returns at once
});
