import assert from 'node:assert/strict';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Api, FINAL, type Task } from '../helpers/api.js';
import { isAlive } from '../helpers/process-state.js';
import { spawnBin, startMaster, startWorker, tempDir } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const DB = 'retire-cluster.db';

/** A master with some tasks in its database, stopped cleanly so everything is in the main file. */
async function seededDataDir(t: Parameters<typeof tempDir>[0], root: string): Promise<string> {
  const dataDir = join(root, 'master');
  const m = await startMaster(t, { dataDir });
  const api = new Api(m.httpUrl, dataDir);
  await api.submitBatch(Array.from({ length: 2000 }, (_, i) => ({ task_type: 'echo', payload: { message: `seed-${i}-${'x'.repeat(200)}` } })));
  m.kill('SIGTERM');
  assert.equal(await m.exited, 0);
  return dataDir;
}

test('a damaged database file stops the master at startup with a clear message, and is left untouched', async (t) => {
  const root = tempDir(t);
  const dataDir = await seededDataDir(t, root);
  const file = join(dataDir, DB);
  const size = statSync(file).size;
  assert.ok(size > 64 * 4096, `the seeded database spans many pages (${size} bytes)`);
  // Scribble over pages in the middle of the file (the header stays readable).
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(8 * 4096, 0x5a), 0, 8 * 4096, Math.floor(size / 2 / 4096) * 4096);
  closeSync(fd);

  const run = spawnBin('rc-master', ['--host', '127.0.0.1', '--http-host', '127.0.0.1', '--port', '0', '--http-port', '0', '--data-dir', dataDir]);
  assert.equal(await run.exited, 1, 'refuses to start');
  assert.match(run.output(), /is damaged/);
  assert.match(run.output(), new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.match(run.output(), /Backup and restore/);
  assert.equal(statSync(file).size, size, 'the file was not rewritten');
});

test('a file that is not SQLite at all is reported the same way', async (t) => {
  const dataDir = join(tempDir(t), 'master');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, DB), 'this is a shopping list, not a database\n'.repeat(200));
  const run = spawnBin('rc-master', ['--host', '127.0.0.1', '--http-host', '127.0.0.1', '--port', '0', '--http-port', '0', '--data-dir', dataDir]);
  assert.equal(await run.exited, 1);
  assert.match(run.output(), /is damaged/);
});

test('a full store: writes get 503 RC_ERR_STORE, the master stays up, nothing acknowledged is lost, and it recovers', async (t) => {
  const root = tempDir(t);
  const dataDir = join(root, 'master');
  // A 1 MiB cap stands in for a full disk: SQLite answers SQLITE_FULL exactly as it would there.
  const m = await startMaster(t, { dataDir, extraArgs: ['--store-max-size', '1'] });
  const api = new Api(m.httpUrl, dataDir);
  const accepted: Task[] = [];
  let refusal: { status: number; body: unknown } | null = null;
  for (let i = 0; i < 40 && refusal === null; i++) {
    const batch = Array.from({ length: 10 }, (_, j) => ({ task_type: 'echo', payload: { message: `${i}-${j}-${'y'.repeat(20_000)}` } }));
    const res = await api.request('POST', '/api/v1/tasks', batch);
    if (res.status === 201) accepted.push(...(res.body as Task[]));
    else refusal = res;
  }
  assert.ok(refusal !== null, 'the cap was reached');
  assert.equal(refusal.status, 503);
  assert.equal((refusal.body as { code: string }).code, 'RC_ERR_STORE');
  assert.match((refusal.body as { message: string }).message, /SQLITE_FULL|full/);
  assert.ok(accepted.length > 0);

  // Still up and serving; everything it acknowledged is readable.
  assert.ok(isAlive(m.proc.pid!));
  assert.equal((await fetch(`${m.httpUrl}/health`)).status, 200);
  for (const task of accepted.slice(0, 20)) assert.equal((await api.task(task.task_id)).status, 'queued');

  // A worker joins: the first assignment cannot be committed, so the master says the store is failing, and waits.
  startWorker(t, m, { dataDir: join(root, 'w'), deviceId: 'w', maxTasks: 8 });
  const health = await waitFor(async () => {
    const body = (await (await fetch(`${m.httpUrl}/health`)).json()) as { store: string };
    return body.store === 'failing' ? body : null;
  }, 20_000, '/health reports the failing store');
  assert.equal(health.store, 'failing');
  const listed = await api.list('limit=5');
  assert.equal(listed.length, 5, 'reads keep working while writes fail');
  const metrics = await (await fetch(`${m.httpUrl}/metrics`)).text();
  assert.match(metrics, /^rc_store_writable 0$/m);
  assert.ok(isAlive(m.proc.pid!), 'the master did not crash on a full store');

  // The cause goes away (here: a bigger cap after a restart): every acknowledged task is there and finishes.
  m.kill('SIGTERM');
  await m.exited;
  const again = await startMaster(t, { dataDir, tcpPort: m.tcpPort, extraArgs: ['--store-max-size', '256'] });
  const api2 = new Api(again.httpUrl, dataDir);
  const all = new Map((await api2.all()).map((x) => [x.task_id, x]));
  for (const task of accepted) assert.ok(all.has(task.task_id), `${task.task_id} was acknowledged and is still there`);
  assert.equal(all.size, accepted.length, 'the refused batch left nothing behind');
  await waitFor(async () => (await api2.list('status=succeeded&limit=1000')).length === accepted.length, 60_000, 'every task succeeds');
  const fresh = await api2.submit({ task_type: 'echo', payload: { message: 'room again' } });
  assert.equal((await api2.waitForStatus(fresh.task_id, [...FINAL], 20_000)).status, 'succeeded');
});

test('rc-master backup: an online copy while tasks are being submitted, refused over an existing file, restorable', async (t) => {
  const root = tempDir(t);
  const dataDir = join(root, 'master');
  const m = await startMaster(t, { dataDir });
  const api = new Api(m.httpUrl, dataDir);
  startWorker(t, m, { dataDir: join(root, 'w'), deviceId: 'w', maxTasks: 8 });
  const before = await api.submitBatch(Array.from({ length: 3000 }, (_, i) => ({ task_type: 'echo', payload: { message: `b${i}` } })));
  // Keep writing while the backup runs.
  let writing = true;
  const writer = (async () => {
    while (writing) await api.submitBatch(Array.from({ length: 100 }, (_, i) => ({ task_type: 'echo', payload: { message: `during-${i}` } })));
  })();
  const copy = join(root, 'backup.db');
  const run = spawnBin('rc-master', ['backup', copy, '--data-dir', dataDir]);
  const code = await run.exited;
  writing = false;
  await writer;
  assert.equal(code, 0, run.output());
  assert.match(run.output(), /backup written: .*backup\.db .* tasks .* quick_check ok/);

  const again = spawnBin('rc-master', ['backup', copy, '--data-dir', dataDir]);
  assert.notEqual(await again.exited, 0);
  assert.match(again.output(), /already exists; pass --force/);
  const forced = spawnBin('rc-master', ['backup', copy, '--data-dir', dataDir, '--force']);
  assert.equal(await forced.exited, 0, forced.output());

  // Restore: a master started on the copy has every task acknowledged before the backup began.
  const restoredDir = join(root, 'restored');
  mkdirSync(restoredDir, { recursive: true });
  copyFileSync(copy, join(restoredDir, DB));
  assert.ok(!existsSync(join(restoredDir, `${DB}-wal`)));
  const restored = await startMaster(t, { dataDir: restoredDir });
  const api2 = new Api(restored.httpUrl, restoredDir);
  const ids = new Set((await api2.all()).map((x) => x.task_id));
  for (const task of before) assert.ok(ids.has(task.task_id), `${task.task_id} is in the backup`);
});
