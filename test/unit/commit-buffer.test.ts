import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../src/common/logger.js';
import { CommitBuffer } from '../../src/master/tasks/commit-buffer.js';
import type { TaskChanges, TaskRecord, TaskStore } from '../../src/store/store.js';
import { waitFor } from '../helpers/wait.js';

/** A store that fails on purpose while `broken` is set, and records what it committed. */
class FlakyStore {
  broken = false;
  readonly commits: TaskChanges[] = [];
  commitTaskChanges(changes: TaskChanges): void {
    if (this.broken) throw new Error('SQLITE_FULL: database or disk is full');
    this.commits.push(changes);
  }
}

function task(id: string): TaskRecord {
  return { task_id: id, status: 'queued' } as TaskRecord;
}

test('waiters run only after the commit, in one transaction per turn', async () => {
  const store = new FlakyStore();
  const buffer = new CommitBuffer(store as unknown as TaskStore, silentLogger());
  const sent: string[] = [];
  buffer.update(task('a'));
  buffer.update(task('b'));
  buffer.then(() => sent.push('after-a-b'));
  assert.deepEqual(sent, [], 'nothing leaves before the commit');
  await waitFor(() => sent.length === 1, 2000, 'the waiter ran');
  assert.equal(store.commits.length, 1);
  assert.equal(store.commits[0]?.updates?.length, 2);
});

test('a failed commit keeps rows and patient waiters, fails impatient ones, and reports unhealthy until it recovers', async () => {
  const store = new FlakyStore();
  const buffer = new CommitBuffer(store as unknown as TaskStore, silentLogger());
  store.broken = true;
  const sent: string[] = [];
  const failed: string[] = [];
  buffer.update(task('a'));
  buffer.then(() => sent.push('assign'));
  buffer.then(() => sent.push('ack'), () => failed.push('ack'));
  await waitFor(() => failed.length === 1, 2000, 'the impatient waiter failed');
  assert.equal(buffer.healthy, false);
  assert.deepEqual(sent, []);
  store.broken = false;
  await waitFor(() => sent.length === 1, 5000, 'the patient waiter ran after recovery');
  assert.deepEqual(sent, ['assign'], 'the failed ack is not sent after all');
  assert.equal(buffer.healthy, true);
  assert.equal(store.commits[0]?.updates?.[0]?.task_id, 'a', 'the kept row was written');
});

test('one throwing waiter does not stop the others', async () => {
  const store = new FlakyStore();
  const buffer = new CommitBuffer(store as unknown as TaskStore, silentLogger());
  const sent: string[] = [];
  buffer.update(task('a'));
  buffer.then(() => {
    throw new Error('boom');
  });
  buffer.then(() => sent.push('second'));
  await waitFor(() => sent.length === 1, 2000, 'the second waiter ran');
});

/** A store with a background writer whose answers the test releases by hand. */
class ManualWriterStore extends FlakyStore {
  readonly posted: Array<{ changes: TaskChanges; done: (err: Error | null) => void }> = [];
  settles = 0;
  commitTaskChangesInBackground(changes: TaskChanges, done: (err: Error | null) => void): boolean {
    this.posted.push({ changes, done });
    return true;
  }
  answer(err: Error | null = null): void {
    const next = this.posted.shift();
    assert.ok(next, 'something was posted');
    next.done(err);
  }
  settleTaskCommits(): void {
    this.settles++;
    while (this.posted.length > 0) this.answer();
  }
}

test('background commits: waiters run on the answer, several may be in flight, flush settles them first', async () => {
  const store = new ManualWriterStore();
  const buffer = new CommitBuffer(store as unknown as TaskStore, silentLogger());
  const sent: string[] = [];
  buffer.update(task('a'));
  buffer.then(() => sent.push('a'));
  await waitFor(() => store.posted.length === 1, 2000, 'the first commit was posted');
  buffer.update(task('b'));
  buffer.then(() => sent.push('b'));
  await waitFor(() => store.posted.length === 2, 2000, 'a second commit was posted before the first was answered');
  assert.deepEqual(sent, [], 'nothing leaves before its commit is answered');
  store.answer();
  assert.deepEqual(sent, ['a']);
  buffer.update(task('c'));
  buffer.flush();
  assert.equal(store.settles, 1, 'flush waited for the background commits');
  assert.deepEqual(sent, ['a', 'b']);
  assert.equal(store.commits.at(-1)?.updates?.[0]?.task_id, 'c', 'then committed the rest itself');
});

test('a failed background commit keeps its rows for the retry and fails impatient waiters', async () => {
  const store = new ManualWriterStore();
  const buffer = new CommitBuffer(store as unknown as TaskStore, silentLogger());
  const sent: string[] = [];
  const failed: string[] = [];
  buffer.update(task('a'));
  buffer.then(() => sent.push('assign'));
  buffer.then(() => sent.push('ack'), () => failed.push('ack'));
  await waitFor(() => store.posted.length === 1, 2000, 'posted');
  store.answer(new Error('SQLITE_FULL: database or disk is full'));
  assert.deepEqual(failed, ['ack']);
  assert.equal(buffer.healthy, false);
  await waitFor(() => store.posted.length === 1, 5000, 'the rows were posted again');
  assert.equal(store.posted[0]?.changes.updates?.[0]?.task_id, 'a');
  store.answer();
  assert.deepEqual(sent, ['assign']);
  assert.equal(buffer.healthy, true);
});
