import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startMaster, startWorker, tempDir, type RunningMaster } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from '../helpers/ports.js';

interface DeviceRow {
  device_id: string;
  status: string;
  role: string;
  platform: string | null;
  arch: string | null;
  cpu_count: number | null;
  memory_total_gb: number | null;
  cpu_usage: number | null;
  memory_usage: number | null;
  last_seen: string;
}

async function devices(m: RunningMaster): Promise<DeviceRow[]> {
  const res = await fetch(`${m.httpUrl}/text/devices?format=json`);
  assert.equal(res.status, 200);
  return (await res.json()) as DeviceRow[];
}

async function deviceStatus(m: RunningMaster, id: string): Promise<string | undefined> {
  return (await devices(m)).find((d) => d.device_id === id)?.status;
}

function threeWorkers(t: TestContext, m: { tcpPort: number }, root: string): void {
  startWorker(t, m, { dataDir: join(root, 'w1'), deviceId: 'phone-1', role: 'mobile', tags: ['arm', 'battery'] });
  startWorker(t, m, { dataDir: join(root, 'w2'), deviceId: 'pi-1', role: 'pi' });
  startWorker(t, m, { dataDir: join(root, 'w3'), deviceId: 'laptop-1', role: 'compute', maxTasks: 4 });
}

const IDS = ['laptop-1', 'phone-1', 'pi-1'];

async function allOnline(m: RunningMaster, ids: string[]): Promise<DeviceRow[]> {
  return waitFor(async () => {
    const rows = await devices(m);
    const online = ids.every((id) => rows.some((d) => d.device_id === id && d.status === 'online'));
    return online ? rows : null;
  }, 20_000, `devices ${ids.join(', ')} online`);
}

test('a master with three workers lists all three online with their profiles', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master') });
  threeWorkers(t, m, root);
  const rows = await allOnline(m, IDS);
  assert.deepEqual(rows.map((d) => d.device_id).sort(), IDS);
  for (const d of rows) {
    assert.equal(d.platform, process.platform, `${d.device_id} platform`);
    assert.equal(d.arch, process.arch, `${d.device_id} arch`);
    assert.ok((d.cpu_count ?? 0) > 0, `${d.device_id} reports CPU cores`);
    assert.ok((d.memory_total_gb ?? 0) > 0, `${d.device_id} reports memory`);
  }
  assert.deepEqual(rows.map((d) => d.role).sort(), ['compute', 'mobile', 'pi']);
  // Live load arrives with heartbeats, after registration.
  await waitFor(async () => (await devices(m)).every((d) => d.memory_usage !== null && d.memory_usage > 0), 10_000, 'heartbeat metrics');

  const text = await (await fetch(`${m.httpUrl}/text/devices`)).text();
  const [header, ...lines] = text.trimEnd().split('\n');
  assert.match(header ?? '', /^DEVICE\s+STATUS\s+ROLE\s+PLATFORM\s+ARCH\s+CORES\s+MEM_GB\s+CPU%\s+MEM%\s+LAST_SEEN$/);
  assert.equal(lines.length, 3);
  const statusColumn = header!.indexOf('STATUS');
  assert.ok(lines.every((l) => l.slice(statusColumn).startsWith('online')), 'columns line up under their headers');
});

test('kill -9 of a worker marks it suspect, then offline within offline_after', async (t) => {
  const root = tempDir(t);
  const offlineAfterS = 3;
  const m = await startMaster(t, { dataDir: join(root, 'master'), heartbeatIntervalS: 0.5, offlineAfterS });
  const victim = startWorker(t, m, { dataDir: join(root, 'victim'), deviceId: 'victim' });
  startWorker(t, m, { dataDir: join(root, 'survivor'), deviceId: 'survivor' });
  await allOnline(m, ['survivor', 'victim']);

  victim.kill('SIGKILL');
  await victim.exited;
  const seen = new Set<string>();
  // Deadline: offline_after plus one liveness tick and a poll of slack.
  await waitFor(async () => {
    const status = await deviceStatus(m, 'victim');
    if (status) seen.add(status);
    return status === 'offline';
  }, offlineAfterS * 1000 + 1500, 'victim offline', 25);
  assert.ok(seen.has('suspect'), `passes through suspect first (saw ${[...seen].join(', ')})`);
  assert.equal(await deviceStatus(m, 'survivor'), 'online', 'the other worker is unaffected');
});

test('after kill -9 and restart of the master, workers re-register by themselves and the device list survived', async (t) => {
  const root = tempDir(t);
  const dataDir = join(root, 'master');
  const first = await startMaster(t, { dataDir });
  threeWorkers(t, first, root);
  const departed = startWorker(t, first, { dataDir: join(root, 'departed'), deviceId: 'departed' });
  await allOnline(first, [...IDS, 'departed']);

  // One device leaves for good while the master is down: only the disk can remember it.
  first.kill('SIGKILL');
  await first.exited;
  departed.kill('SIGTERM');
  assert.equal(await departed.exited, 0, 'a worker exits cleanly on SIGTERM');

  const second = await startMaster(t, { dataDir, tcpPort: first.tcpPort });
  const rows = await allOnline(second, IDS);
  const gone = rows.find((d) => d.device_id === 'departed');
  assert.ok(gone, 'a device registered before the restart is still listed');
  assert.equal(gone.status, 'offline', 'listed offline until it reconnects');
  assert.equal(gone.role, 'worker');
  assert.ok((gone.cpu_count ?? 0) > 0, 'its profile survived too');
});

test('a worker started before its master keeps retrying and registers once the master appears', async (t) => {
  const root = tempDir(t);
  const port = await freePort();
  const joinToken = 'early-bird-join-token';
  const worker = startWorker(t, { tcpPort: port, joinToken }, { dataDir: join(root, 'early'), deviceId: 'early-bird' });
  await waitFor(() => (worker.output().match(/master unreachable; retrying/g)?.length ?? 0) >= 3, 10_000, 'several retries');
  assert.equal(worker.proc.exitCode, null, 'the worker never exits because the master is away');
  const m = await startMaster(t, { dataDir: join(root, 'master'), tcpPort: port, extraArgs: ['--join-token', joinToken] });
  await allOnline(m, ['early-bird']);
});

