import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { MASTER_DEFAULTS } from '../../src/common/config.js';
import { silentLogger } from '../../src/common/logger.js';
import { DeviceRegistry } from '../../src/master/registry.js';
import { TaskService } from '../../src/master/tasks/task-service.js';
import { openStore } from '../../src/store/index.js';
import type { DeviceProfile } from '../../src/store/store.js';
import { waitFor } from '../helpers/wait.js';

const clock = { nowMs: Date.UTC(2026, 0, 1), now(): number { return this.nowMs; } };
const profile: DeviceProfile = {
  hostname: null, role: 'worker', tags: [], platform: 'linux', arch: 'x64', cpu_count: 4, cpu_model: null,
  memory_total_gb: 8, storage_total_gb: 100, gpu: null, max_tasks: 1, task_types: ['echo'],
  node_version: null, protocol_version: '1.0', extra: {},
};

/** A store, registry and task service as the Master wires them; `sent` collects what would go to devices. */
function service(t: TestContext, dir: string, online: boolean) {
  const store = openStore(dir);
  const log = silentLogger();
  const registry = new DeviceRegistry({ store, clock, log, heartbeatIntervalMs: 1000, offlineAfterMs: 5000 });
  const sent: Array<{ device: string; type: string }> = [];
  const tasks = new TaskService({
    store, registry, clock, log, config: { ...MASTER_DEFAULTS },
    send: (device, msg) => (sent.push({ device, type: msg.message_type }), true),
    isConnected: () => online,
  });
  registry.load();
  t.after(() => {
    tasks.close();
    registry.flush();
    store.close();
  });
  return { store, registry, tasks, sent };
}

test('the startup load reads the queue in pages while submits and cancels go on, then dispatches', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-load-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const before = service(t, dir, false);
  await before.tasks.load();
  const old = before.tasks.submit(Array.from({ length: 12_000 }, (_, i) => ({ task_type: 'echo', payload: { message: `old-${i}` } })));
  before.tasks.close();

  const after = service(t, dir, true);
  after.registry.register('dev-a', profile, null);
  const loading = after.tasks.load();
  // The first page is read at once; the rest come on later turns of the event loop.
  assert.ok(after.tasks.queueSizes().normal < 12_000, 'still loading');
  const [fresh] = after.tasks.submit([{ task_type: 'echo', payload: { message: 'during the load' } }]);
  const lastOld = old.at(-1)!;
  assert.equal(after.tasks.cancel(lastOld.task_id).status, 'cancelled', 'a task not read yet can be cancelled');
  assert.equal(after.sent.length, 0, 'nothing is assigned before the whole queue is known');

  await loading;
  assert.equal(after.tasks.queueSizes().normal, 12_000, '11,999 old tasks + the new one, each once');
  assert.equal(after.tasks.get(lastOld.task_id)?.status, 'cancelled', 'the load did not bring the cancelled task back');
  await waitFor(() => after.sent.length > 0, 5_000, 'dispatch runs once loaded');
  assert.equal(after.sent.length, 1, 'one slot, one assignment');
  assert.equal(after.tasks.get(old[0]!.task_id)?.status, 'assigned', 'the oldest task goes first, not the one submitted during the load');
  assert.equal(after.tasks.get(fresh!.task_id)?.status, 'queued');
});

test('on a full cluster, wait reasons are refreshed at most every 250 ms, not on every pass', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-explain-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const s = service(t, dir, true);
  s.registry.register('dev-a', profile, null);
  await s.tasks.load();
  const [running, first] = s.tasks.submit([{ task_type: 'echo', payload: { message: 'a' } }, { task_type: 'echo', payload: { message: 'b' } }]);
  assert.equal(s.tasks.get(running!.task_id)?.status, 'assigned');
  assert.match(s.tasks.get(first!.task_id)?.wait_reason ?? '', /busy|slot|free/, 'the first pass explains');
  clock.nowMs += 100;
  const [second] = s.tasks.submit([{ task_type: 'echo', payload: { message: 'c' } }]);
  assert.equal(s.tasks.get(second!.task_id)?.wait_reason, null, 'a pass 100 ms later stops at the full device');
  clock.nowMs += 200;
  s.tasks.scheduleDispatch();
  await waitFor(() => s.tasks.get(second!.task_id)?.wait_reason !== null, 2_000, 'the reason after 250 ms');
  assert.match(s.tasks.get(second!.task_id)?.wait_reason ?? '', /busy|slot|free/);
});
