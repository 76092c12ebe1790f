import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Api, FINAL } from '../helpers/api.js';
import { startMaster, startWorker, tempDir } from '../helpers/processes.js';

test('a task killed by the OS (SIGKILL nobody here sent) is device_killed: requeued without using a retry', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master') });
  const api = new Api(m.httpUrl, m.dataDir);
  startWorker(t, m, { dataDir: join(root, 'phone'), deviceId: 'phone' });
  // The first run dies the way Android's low-memory killer ends a process; the second finishes.
  const marker = join(root, 'first-run-happened');
  const script = `if [ ! -e '${marker}' ]; then touch '${marker}'; kill -9 $$; fi; echo survived`;
  const task = await api.submit({ task_type: 'exec', payload: { command: ['sh', '-c', script] }, max_retries: 0 });
  const done = await api.waitForStatus(task.task_id, [...FINAL], 30_000);
  assert.equal(done.status, 'succeeded', JSON.stringify(done.events));
  assert.equal(done.attempts, 2);
  assert.equal(done.retries, 0, 'device_killed uses no retry (max_retries is 0 and it still ran again)');
  assert.equal(done.result?.output.trim(), 'survived');
  const requeue = done.events?.find((e) => e.kind === 'requeued');
  assert.equal(requeue?.detail['reason'], 'device_killed');
  assert.match(String(requeue?.detail['error']), /SIGKILL/);
});

test('a task that fails on its own (exit 3) still uses its retries: only the OS kill is exempt', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master') });
  const api = new Api(m.httpUrl, m.dataDir);
  startWorker(t, m, { dataDir: join(root, 'pi'), deviceId: 'pi' });
  const task = await api.submit({ task_type: 'exec', payload: { command: ['sh', '-c', 'exit 3'] }, max_retries: 0 });
  const done = await api.waitForStatus(task.task_id, [...FINAL], 30_000);
  assert.equal(done.status, 'failed');
  assert.equal(done.attempts, 1);
});
