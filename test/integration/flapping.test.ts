import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Api, FINAL } from '../helpers/api.js';
import { startMaster, startWorker, tempDir, type RunningMaster } from '../helpers/processes.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

interface DeviceJson {
  device_id: string;
  connected: boolean;
  flaps: number;
  unstable: boolean;
  recent_events: Array<{ kind: string }>;
}

async function device(api: Api, id: string): Promise<DeviceJson> {
  return (await api.request('GET', `/api/v1/devices/${id}?limit=50`)).body as DeviceJson;
}

async function connectedCount(m: RunningMaster): Promise<number> {
  const rows = (await (await fetch(`${m.httpUrl}/api/v1/devices`)).json()) as { devices: Array<{ connected: boolean }> };
  return rows.devices.filter((d) => d.connected).length;
}

test('a link that flaps within lost_after keeps its task; repeated flaps mark the device unstable and placement avoids it', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master'), heartbeatIntervalS: 0.5, offlineAfterS: 5, extraArgs: ['--lost-after', '60'], env: { RC_FLAP_THRESHOLD: '3' } });
  const api = new Api(m.httpUrl, m.dataDir);
  const proxy = await TcpProxy.start(m.tcpPort);
  t.after(() => proxy.close());
  startWorker(t, { tcpPort: proxy.port, dataDir: m.dataDir }, { dataDir: join(root, 'phone'), deviceId: 'phone', maxTasks: 4 });
  await waitFor(async () => (await connectedCount(m)) === 1, 20_000, 'phone connected');
  const long = await api.submit({ task_type: 'exec', payload: { command: ['sh', '-c', 'sleep 4; echo kept'] }, max_retries: 0 });
  await api.waitForStatus(long.task_id, 'running', 20_000);

  for (let flap = 1; flap <= 3; flap++) {
    proxy.cutAll();
    await waitFor(async () => (await device(api, 'phone')).flaps === flap, 10_000, `drop ${flap} counted`);
    await waitFor(async () => (await device(api, 'phone')).connected, 20_000, `phone back after drop ${flap}`);
  }
  const done = await api.waitForStatus(long.task_id, [...FINAL], 30_000);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.device_id, 'phone');
  assert.equal(done.attempts, 1, 'no task moved');
  assert.equal(done.result?.output.trim(), 'kept');

  const phone = await device(api, 'phone');
  assert.equal(phone.unstable, true);
  const kinds = phone.recent_events.map((e) => e.kind);
  assert.equal(kinds.filter((k) => k === 'disconnected').length, 3, 'the history shows each flap');
  assert.ok(kinds.includes('unstable'));
  const text = await (await fetch(`${m.httpUrl}/text/devices`)).text();
  assert.match(text, /^phone\s+online,unstable\s/m);
  const rows = (await (await fetch(`${m.httpUrl}/text/devices?format=json`)).json()) as Array<{ device_id: string; status: string; unstable: boolean }>;
  assert.deepEqual(rows.map((r) => [r.device_id, r.status, r.unstable]), [['phone', 'online', true]]);

  // A stable device with free slots gets the work, though the phone is idle too.
  startWorker(t, m, { dataDir: join(root, 'nas'), deviceId: 'nas', maxTasks: 4 });
  await waitFor(async () => (await connectedCount(m)) === 2, 20_000, 'nas connected');
  const batch = await api.submitBatch(Array.from({ length: 4 }, (_, i) => ({ task_type: 'exec', payload: { command: ['sh', '-c', `sleep 0.5; echo ${i}`] } })));
  for (const task of batch) {
    const finished = await api.waitForStatus(task.task_id, [...FINAL], 20_000);
    assert.equal(finished.device_id, 'nas', 'placement prefers the stable device');
  }
});

test('a worker stopping on purpose (SIGTERM) is not counted as a flap', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master'), env: { RC_FLAP_THRESHOLD: '1' } });
  const api = new Api(m.httpUrl, m.dataDir);
  const w = startWorker(t, m, { dataDir: join(root, 'pi'), deviceId: 'pi' });
  await waitFor(async () => (await connectedCount(m)) === 1, 20_000, 'pi connected');
  w.kill('SIGTERM');
  assert.equal(await w.exited, 0);
  await waitFor(async () => (await connectedCount(m)) === 0, 10_000, 'pi disconnected');
  const pi = await device(api, 'pi');
  assert.equal(pi.flaps, 0);
  assert.equal(pi.unstable, false);
  assert.ok(pi.recent_events.some((e) => e.kind === 'disconnected'), 'the disconnect is still in the history');
});

test('a link down for longer than lost_after: the task moves to another device, and the late result changes nothing', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master'), heartbeatIntervalS: 0.5, offlineAfterS: 1.5, extraArgs: ['--lost-after', '3'] });
  const api = new Api(m.httpUrl, m.dataDir);
  const proxy = await TcpProxy.start(m.tcpPort);
  t.after(() => proxy.close());
  startWorker(t, { tcpPort: proxy.port, dataDir: m.dataDir }, { dataDir: join(root, 'phone'), deviceId: 'phone' });
  await waitFor(async () => (await connectedCount(m)) === 1, 20_000, 'phone connected');
  const task = await api.submit({ task_type: 'exec', payload: { command: ['sh', '-c', 'sleep 2; echo done'] }, max_retries: 0 });
  await api.waitForStatus(task.task_id, 'running', 20_000);
  startWorker(t, m, { dataDir: join(root, 'nas'), deviceId: 'nas' });
  await waitFor(async () => (await connectedCount(m)) === 2, 20_000, 'nas connected');

  proxy.partition(7000);
  const done = await api.waitForStatus(task.task_id, [...FINAL], 30_000);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.device_id, 'nas', 'the task moved after lost_after');
  assert.equal(done.attempts, 2);
  assert.equal(done.retries, 0, 'a lost device uses no retry');
  assert.ok(done.events?.some((e) => e.kind === 'requeued' && e.detail['reason'] === 'device_lost'));
  // The phone's result for attempt 1 arrives once the link is back: recorded as late, never as the outcome.
  const late = await waitFor(async () => {
    const x = await api.task(task.task_id);
    return x.events?.some((e) => e.kind === 'late_result') ? x : null;
  }, 30_000, 'the late result of attempt 1');
  assert.equal(late.status, 'succeeded');
  assert.equal(late.device_id, 'nas');
  assert.equal(late.attempts, 2);
});
