import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FleetSim } from '../../bench/fleet-sim.js';
import { Api } from '../helpers/api.js';
import { startMaster, tempDir } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

// The benchmark's fleet simulator, small: correctness only (every task done exactly once), never speed.
test('fleet simulator smoke run: 100 simulated devices, 1,000 tasks, each done exactly once and stored', async (t) => {
  const m = await startMaster(t, { dataDir: join(tempDir(t), 'master') });
  const api = new Api(m.httpUrl, m.dataDir);
  const acked = new Map<string, number>();
  const fleet = await FleetSim.start({
    host: '127.0.0.1', port: m.tcpPort, devices: 100, slots: 4, joinToken: readFileSync(join(m.dataDir, 'join-token'), 'utf8').trim(),
    heartbeatIntervalS: 1,
    onResultAck: (id) => acked.set(id, (acked.get(id) ?? 0) + 1),
  });
  t.after(() => fleet.close());
  assert.equal(fleet.stats.registered, 100);
  const online = (await (await fetch(`${m.httpUrl}/text/devices?format=json&status=online`)).json()) as unknown[];
  assert.equal(online.length, 100);

  const submitted = await api.submitBatch(Array.from({ length: 1000 }, (_, i) => ({ task_type: 'echo', payload: { message: `sim-${i}` } })));
  await waitFor(() => acked.size === 1000, 60_000, () => `results acknowledged: ${acked.size}/1000`);
  assert.equal(fleet.stats.assigned, 1000, 'each task assigned once');
  assert.equal(fleet.stats.duplicateAssigns, 0);
  assert.ok([...acked.values()].every((n) => n === 1), 'each result acknowledged once');
  assert.deepEqual(new Set(acked.keys()), new Set(submitted.map((x) => x.task_id)));
  const stored = await api.list('status=succeeded&limit=1000');
  assert.equal(stored.length, 1000, 'every result is stored');
  await waitFor(() => fleet.stats.heartbeatsAcked > 0, 10_000, 'a heartbeat that asks (every 3rd) is answered');
  assert.ok(fleet.stats.heartbeatsSent > fleet.stats.heartbeatsAsked, 'most heartbeats are quiet');
  assert.ok(fleet.stats.heartbeatsAcked <= fleet.stats.heartbeatsAsked, 'quiet heartbeats get no ack');
  assert.equal(fleet.stats.errors, 0);
});
