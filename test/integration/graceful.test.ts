import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { Api, FINAL } from '../helpers/api.js';
import { startMaster, startWorker, tempDir, type RunningMaster } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

async function online(m: RunningMaster): Promise<string[]> {
  const rows = (await (await fetch(`${m.httpUrl}/text/devices?format=json&status=online`)).json()) as Array<{ device_id: string }>;
  return rows.map((r) => r.device_id);
}

// lost_after is long on purpose: anything that moves in these tests moved because it was given back.
const LIVENESS = { heartbeatIntervalS: 0.5, offlineAfterS: 3, extraArgs: ['--lost-after', '120'] };

test('worker SIGTERM: a task that outlives the grace period is given back and requeued at once, without using a retry', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master'), ...LIVENESS });
  const api = new Api(m.httpUrl, m.dataDir);
  const leaving = startWorker(t, m, { dataDir: join(root, 'leaving'), deviceId: 'leaving', extraArgs: ['--shutdown-grace', '0.5'] });
  await waitFor(async () => (await online(m)).includes('leaving'), 20_000, 'leaving online');
  const task = await api.submit({ task_type: 'sleep', payload: { seconds: 3 }, max_retries: 0 });
  await api.waitForStatus(task.task_id, 'running', 20_000);

  const stoppedAt = Date.now();
  leaving.kill('SIGTERM');
  assert.equal(await leaving.exited, 0, 'a worker stopped by SIGTERM exits 0');
  assert.ok(Date.now() - stoppedAt < 10_000, 'it did not wait for the task to end');
  const requeued = await api.waitForStatus(task.task_id, 'queued', 5_000);
  assert.equal(requeued.retries, 0, 'giving a task back uses no retry');
  assert.ok(requeued.events?.some((e) => e.kind === 'requeued' && e.detail['reason'] === 'abandoned_by_worker'));

  startWorker(t, m, { dataDir: join(root, 'stays'), deviceId: 'stays' });
  const done = await api.waitForStatus(task.task_id, [...FINAL], 30_000);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.device_id, 'stays');
  assert.equal(done.attempts, 2);
});

test('worker SIGTERM: running tasks may finish within the grace period, and nothing new is assigned meanwhile', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master'), ...LIVENESS });
  const api = new Api(m.httpUrl, m.dataDir);
  const leaving = startWorker(t, m, { dataDir: join(root, 'leaving'), deviceId: 'leaving', maxTasks: 4, extraArgs: ['--shutdown-grace', '30'] });
  await waitFor(async () => (await online(m)).includes('leaving'), 20_000, 'leaving online');
  const running = await api.submit({ task_type: 'exec', payload: { command: ['sh', '-c', 'sleep 2; echo finished-in-grace'] } });
  await api.waitForStatus(running.task_id, 'running', 20_000);

  leaving.kill('SIGTERM');
  // The worker announces the pause at once; a task submitted now must not go to it.
  await waitFor(async () => {
    const res = (await api.request('GET', '/api/v1/devices/leaving')).body as { metrics?: { paused?: boolean; pause_reason?: string } };
    return res.metrics?.paused === true ? res.metrics : null;
  }, 5_000, 'the pause reached the master');
  const later = await api.submit({ task_type: 'echo', payload: { message: 'after the stop' } });

  assert.equal(await leaving.exited, 0);
  const first = await api.task(running.task_id);
  assert.equal(first.status, 'succeeded', 'the running task finished within the grace period');
  assert.equal(first.result?.output.trim(), 'finished-in-grace');
  assert.equal(first.attempts, 1);
  const waiting = await api.task(later.task_id);
  assert.equal(waiting.status, 'queued', 'nothing was assigned to the stopping worker');
  assert.equal(waiting.attempts, 0);

  startWorker(t, m, { dataDir: join(root, 'next'), deviceId: 'next' });
  const done = await api.waitForStatus(later.task_id, [...FINAL], 20_000);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.device_id, 'next');
});

test('master SIGTERM: exits 0, refuses writes while stopping, ends streams, and loses nothing acknowledged', async (t) => {
  const root = tempDir(t);
  const dataDir = join(root, 'master');
  const first = await startMaster(t, { dataDir, ...LIVENESS });
  const api1 = new Api(first.httpUrl, dataDir);
  startWorker(t, first, { dataDir: join(root, 'w1'), deviceId: 'w1', maxTasks: 8 });
  await waitFor(async () => (await online(first)).includes('w1'), 20_000, 'w1 online');
  const long = await api1.submit({ task_type: 'exec', payload: { command: ['sh', '-c', 'sleep 3; echo outlived-the-master'] } });
  const batch = await api1.submitBatch(Array.from({ length: 300 }, (_, i) => ({ task_type: 'echo', payload: { message: `m${i}` } })));
  await api1.waitForStatus(long.task_id, 'running', 20_000);

  // A peer that never closes its side keeps the master's connection step busy for a moment,
  // a window in which HTTP is still up and must refuse writes.
  const stubborn = connect({ host: '127.0.0.1', port: first.tcpPort, allowHalfOpen: true });
  stubborn.on('error', () => undefined);
  t.after(() => stubborn.destroy());
  await new Promise((r) => stubborn.once('connect', r));
  const stream = await fetch(`${first.httpUrl}/stream/tasks`, { headers: { authorization: `Bearer ${api1.token}` } });
  const streamText = stream.text();

  first.kill('SIGTERM');
  // Writes that raced the signal may still be accepted (201); those must survive like the rest.
  let acceptedLate = 0;
  const refused = await waitFor(async () => {
    const res = await api1.request('POST', '/api/v1/tasks', { task_type: 'echo', payload: { message: 'late' } }).catch(() => null);
    if (res === null) throw new Error('the HTTP port closed before a write was refused');
    if (res.status === 201) acceptedLate++;
    return res.status === 503 ? res : null;
  }, 5_000, 'a write refused with 503');
  assert.equal((refused.body as { code: string }).code, 'RC_ERR_SHUTTING_DOWN');
  assert.equal(await first.exited, 0, 'SIGTERM exits 0');
  assert.match(await streamText, /event: shutdown/);

  const second = await startMaster(t, { dataDir, tcpPort: first.tcpPort, ...LIVENESS });
  const api2 = new Api(second.httpUrl, dataDir);
  const all = await api2.all();
  const ids = new Set(all.map((x) => x.task_id));
  for (const task of [long, ...batch]) assert.ok(ids.has(task.task_id), `${task.task_id} survived the stop`);
  assert.equal(all.length, 301 + acceptedLate, 'every accepted write is there; the refused one left nothing behind');
  const done = await api2.waitForStatus(long.task_id, [...FINAL], 30_000);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.attempts, 1, 'the worker kept its running task across the master restart');
  assert.equal(done.result?.output.trim(), 'outlived-the-master');
  await waitFor(async () => (await api2.list('status=succeeded&limit=1000')).length === all.length, 30_000, 'every task ends');
});
