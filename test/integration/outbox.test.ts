import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Api, FINAL } from '../helpers/api.js';
import { startMaster, startWorker, tempDir } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { OUTBOX_FILE } from '../../src/worker/outbox.js';

/** The task ids the worker's outbox file holds a result for (not yet acknowledged). */
function pendingInOutbox(workerDir: string): string[] {
  const file = join(workerDir, OUTBOX_FILE);
  if (!existsSync(file)) return [];
  const acked = new Set<string>();
  const put: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const rec = JSON.parse(line) as { put?: { task_id: string; attempt: number }; ack?: string };
    if (rec.put) put.push(`${rec.put.task_id}#${rec.put.attempt}`);
    if (rec.ack) acked.add(rec.ack);
  }
  return put.filter((k) => !acked.has(k)).map((k) => k.split('#')[0]!);
}

const LIVENESS = { heartbeatIntervalS: 0.5, offlineAfterS: 3, extraArgs: ['--lost-after', '60'] };

test('a result finished while the master is down waits in the outbox and is recorded once when the master is back', async (t) => {
  const root = tempDir(t);
  const dataDir = join(root, 'master');
  const workerDir = join(root, 'phone');
  const first = await startMaster(t, { dataDir, ...LIVENESS });
  startWorker(t, first, { dataDir: workerDir, deviceId: 'phone' });
  const api1 = new Api(first.httpUrl, dataDir);
  const task = await api1.submit({ task_type: 'exec', payload: { command: ['sh', '-c', 'sleep 1.5; echo from-the-outage'] }, max_retries: 0 });
  await api1.waitForStatus(task.task_id, 'running', 20_000);

  first.kill('SIGKILL');
  await first.exited;
  await waitFor(() => pendingInOutbox(workerDir).includes(task.task_id), 20_000, 'the result is on disk in the outbox');

  const second = await startMaster(t, { dataDir, tcpPort: first.tcpPort, ...LIVENESS });
  const api2 = new Api(second.httpUrl, dataDir);
  const done = await api2.waitForStatus(task.task_id, [...FINAL], 30_000);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.attempts, 1, 'the same attempt, not a rerun');
  assert.equal(done.device_id, 'phone');
  assert.equal(done.result?.output.trim(), 'from-the-outage');
  await waitFor(() => pendingInOutbox(workerDir).length === 0, 10_000, 'the ack empties the outbox');
  assert.ok(!done.events?.some((e) => e.kind === 'late_result'), 'recorded once: no duplicate result event');
});

test('a worker restart does not lose a finished result: the new process delivers it from the outbox', async (t) => {
  const root = tempDir(t);
  const dataDir = join(root, 'master');
  const workerDir = join(root, 'pi');
  const first = await startMaster(t, { dataDir, ...LIVENESS });
  const worker1 = startWorker(t, first, { dataDir: workerDir, deviceId: 'pi' });
  const api1 = new Api(first.httpUrl, dataDir);
  const task = await api1.submit({ task_type: 'exec', payload: { command: ['sh', '-c', 'sleep 1; echo survived-a-restart'] }, max_retries: 0 });
  await api1.waitForStatus(task.task_id, 'running', 20_000);

  // The master is away when the task ends, so only the outbox holds the result; then the worker dies too.
  first.kill('SIGKILL');
  await first.exited;
  await waitFor(() => pendingInOutbox(workerDir).includes(task.task_id), 20_000, 'the result is on disk in the outbox');
  worker1.kill('SIGKILL');
  await worker1.exited;

  const second = await startMaster(t, { dataDir, tcpPort: first.tcpPort, ...LIVENESS });
  const worker2 = startWorker(t, second, { dataDir: workerDir, deviceId: 'pi' });
  const api2 = new Api(second.httpUrl, dataDir);
  const done = await api2.waitForStatus(task.task_id, [...FINAL], 30_000);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.attempts, 1);
  assert.equal(done.retries, 0);
  assert.equal(done.result?.output.trim(), 'survived-a-restart');
  assert.ok(!done.events?.some((e) => e.kind === 'requeued'), 'nothing was requeued');
  assert.match(worker2.output(), /outbox: results from before the restart will be delivered/);
  await waitFor(() => pendingInOutbox(workerDir).length === 0, 10_000, 'the ack empties the outbox');
});

test('a duplicate result for the same (task_id, attempt) is acknowledged and changes nothing', async (t) => {
  const root = tempDir(t);
  const dataDir = join(root, 'master');
  const workerDir = join(root, 'laptop');
  const first = await startMaster(t, { dataDir, ...LIVENESS });
  const worker1 = startWorker(t, first, { dataDir: workerDir, deviceId: 'laptop' });
  const api1 = new Api(first.httpUrl, dataDir);
  const task = await api1.submit({ task_type: 'echo', payload: { message: 'once' } });
  const done = await api1.waitForStatus(task.task_id, [...FINAL], 20_000);
  assert.equal(done.status, 'succeeded');
  worker1.kill('SIGKILL');
  await worker1.exited;

  // Replay the delivered result as if the ack had been lost: put it back in the outbox file.
  const replay = { task_id: task.task_id, attempt: 1, status: 'failed', result: { output: 'a different story', exit_code: 3, error: 'x', duration_s: 0, truncated: false } };
  writeFileSync(join(workerDir, OUTBOX_FILE), `${JSON.stringify({ put: replay })}\n`);
  startWorker(t, first, { dataDir: workerDir, deviceId: 'laptop' });
  await waitFor(() => pendingInOutbox(workerDir).length === 0, 20_000, 'the master acknowledged the duplicate');

  const after = await api1.task(task.task_id);
  assert.equal(after.status, 'succeeded', 'the first recorded result wins');
  assert.equal(after.result?.output.trim(), 'once');
  assert.equal(after.attempts, 1);
});
