import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Api, FINAL, type Task } from '../helpers/api.js';
import { startMaster, startWorker, tempDir, type RunningMaster } from '../helpers/processes.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

async function onlineCount(m: RunningMaster): Promise<number> {
  const res = await fetch(`${m.httpUrl}/text/devices?format=json&status=online`);
  return ((await res.json()) as unknown[]).length;
}

async function deviceStatus(m: RunningMaster, id: string): Promise<string | undefined> {
  const rows = (await (await fetch(`${m.httpUrl}/text/devices?format=json`)).json()) as Array<{ device_id: string; status: string }>;
  return rows.find((r) => r.device_id === id)?.status;
}

test('kill -9 of a worker mid-task: the task stays put until lost_after, then completes elsewhere without using a retry', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master'), heartbeatIntervalS: 0.5, offlineAfterS: 2, extraArgs: ['--lost-after', '4'] });
  const api = new Api(m.httpUrl, m.dataDir);
  const victim = startWorker(t, m, { dataDir: join(root, 'victim'), deviceId: 'victim' });
  await waitFor(async () => (await onlineCount(m)) === 1, 20_000, 'victim online');

  const task = await api.submit({ task_type: 'sleep', payload: { seconds: 2 }, max_retries: 0 });
  await waitFor(async () => (await api.task(task.task_id)).status === 'running', 10_000, 'running on victim');
  startWorker(t, m, { dataDir: join(root, 'rescuer'), deviceId: 'rescuer' });
  await waitFor(async () => (await onlineCount(m)) === 2, 20_000, 'rescuer online');

  victim.kill('SIGKILL');
  await victim.exited;
  await waitFor(async () => (await deviceStatus(m, 'victim')) === 'offline', 10_000, 'victim offline');
  const meanwhile = await api.task(task.task_id);
  assert.equal(meanwhile.device_id, 'victim', 'an offline device keeps its task until lost_after');

  const done = await api.waitForStatus(task.task_id, [...FINAL], 30_000);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.device_id, 'rescuer');
  assert.equal(done.attempts, 2);
  assert.equal(done.retries, 0, 'losing a device uses no retry');
  assert.ok(done.events?.some((e) => e.kind === 'requeued' && e.detail['reason'] === 'device_lost'));
});

test('a connection that drops and comes back within lost_after keeps its task: nothing moves', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master'), heartbeatIntervalS: 0.5, offlineAfterS: 3, extraArgs: ['--lost-after', '30'] });
  const proxy = await TcpProxy.start(m.tcpPort);
  t.after(() => proxy.close());
  startWorker(t, { tcpPort: proxy.port, dataDir: m.dataDir }, { dataDir: join(root, 'phone'), deviceId: 'phone' });
  startWorker(t, m, { dataDir: join(root, 'other'), deviceId: 'other' });
  const api = new Api(m.httpUrl, m.dataDir);
  await waitFor(async () => (await onlineCount(m)) === 2, 20_000, 'both online');

  const task = await api.submit({ task_type: 'sleep', payload: { seconds: 2 }, requirements: { device_id: 'phone' } });
  await waitFor(async () => (await api.task(task.task_id)).status === 'running', 10_000, 'running on phone');
  proxy.cutAll();
  await waitFor(() => proxy.connections > 0, 10_000, 'the phone reconnected through the proxy');

  const done = await api.waitForStatus(task.task_id, [...FINAL], 30_000);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.device_id, 'phone');
  assert.equal(done.attempts, 1, 'the same attempt finished');
  assert.ok(!done.events?.some((e) => e.kind === 'requeued'), 'no requeue');
});

test('kill -9 of the master in the middle of 1,000 tasks: after a restart every task ends exactly once and none is lost', async (t) => {
  const root = tempDir(t);
  const dataDir = join(root, 'master');
  const first = await startMaster(t, { dataDir });
  for (const id of ['w1', 'w2', 'w3']) startWorker(t, first, { dataDir: join(root, id), deviceId: id, maxTasks: 8 });
  const api1 = new Api(first.httpUrl, dataDir);
  await waitFor(async () => (await onlineCount(first)) === 3, 20_000, 'workers online');

  const specs = Array.from({ length: 1000 }, (_, i) =>
    i % 4 === 0 ? { task_type: 'sleep', payload: { seconds: 0.02 } } : { task_type: 'echo', payload: { message: `task-${i}` } },
  );
  const submitted: Task[] = [];
  for (let i = 0; i < specs.length; i += 250) submitted.push(...(await api1.submitBatch(specs.slice(i, i + 250))));
  await waitFor(async () => (await api1.list('status=succeeded&limit=1000')).length >= 150, 30_000, 'the run under way');

  first.kill('SIGKILL');
  await first.exited;
  const second = await startMaster(t, { dataDir, tcpPort: first.tcpPort });
  const api2 = new Api(second.httpUrl, dataDir);

  await waitFor(async () => (await api2.list('status=succeeded&limit=1000')).length === 1000, 90_000, 'all 1,000 tasks succeeded');
  const all = await api2.all();
  assert.equal(all.length, 1000, 'no task lost, none invented');
  assert.deepEqual(new Set(all.map((x) => x.task_id)), new Set(submitted.map((x) => x.task_id)));
  for (const task of all) assert.equal(task.status, 'succeeded', task.task_id);

  for (const task of all) {
    assert.ok(task.attempts >= 1 && task.result !== null, `${task.task_id} has one stored result`);
    assert.equal(task.result?.exit_code, 0);
    const message = (task as Task & { payload: { message?: string } }).payload.message;
    // Results are matched to their own task and attempt: an echo's output is its own message.
    if (message !== undefined) assert.equal(task.result?.output.trim(), message, task.task_id);
  }
});
