import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Api, type Task } from '../helpers/api.js';
import { startMaster, startWorker, tempDir, type RunningMaster } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { isAlive } from '../helpers/process-state.js';

interface Cluster {
  master: RunningMaster;
  api: Api;
  root: string;
}

async function cluster(t: TestContext, workers: Array<{ id: string; args?: string[]; maxTasks?: number }>): Promise<Cluster> {
  const root = tempDir(t);
  const master = await startMaster(t, { dataDir: join(root, 'master'), extraArgs: ['--lease', '10'] });
  for (const w of workers) startWorker(t, master, { dataDir: join(root, w.id), deviceId: w.id, maxTasks: w.maxTasks ?? 2, extraArgs: w.args ?? [] });
  const api = new Api(master.httpUrl, master.dataDir);
  await waitFor(async () => {
    const res = await fetch(`${master.httpUrl}/text/devices?format=json&status=online`);
    const rows = (await res.json()) as unknown[];
    return rows.length === workers.length;
  }, 20_000, 'workers online');
  return { master, api, root };
}

function errorCode(body: unknown): string | undefined {
  return (body as { code?: string } | null)?.code;
}

/** Poll until `file` holds a pid, then return it. */
async function pidFrom(file: string): Promise<number> {
  return waitFor(() => {
    try {
      const pid = Number(readFileSync(file, 'utf8').trim().split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  }, 10_000, `pid in ${file}`);
}


test('tasks through a real master and worker', async (t) => {
  const c = await cluster(t, [{ id: 'w1', maxTasks: 4 }]);

  await t.test('an echo task runs and its result is stored', async () => {
    const task = await c.api.submit({ task_type: 'echo', payload: { message: 'hello cluster' } });
    assert.equal(task.status, 'queued');
    assert.match(task.task_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'UUIDv7 id');
    const done = await c.api.waitForStatus(task.task_id, 'succeeded');
    assert.equal(done.device_id, 'w1');
    assert.equal(done.attempts, 1);
    assert.equal(done.result?.exit_code, 0);
    assert.match(done.result?.output ?? '', /hello cluster/);
    const kinds = done.events?.map((e) => e.kind);
    assert.deepEqual(kinds, ['created', 'assigned', 'started', 'succeeded']);
  });

  await t.test('the same idempotency_key gives back the existing task', async () => {
    const a = await c.api.submit({ task_type: 'echo', payload: { message: 'once' }, idempotency_key: 'job-42' });
    const b = await c.api.submit({ task_type: 'echo', payload: { message: 'once' }, idempotency_key: 'job-42' });
    assert.equal(b.task_id, a.task_id);
    const batch = await c.api.submitBatch([
      { task_type: 'echo', payload: { message: 'x' }, idempotency_key: 'job-42' },
      { task_type: 'echo', payload: { message: 'y' }, idempotency_key: 'job-43' },
      { task_type: 'echo', payload: { message: 'z' }, idempotency_key: 'job-43' },
    ]);
    assert.equal(batch[0]?.task_id, a.task_id);
    assert.equal(batch[1]?.task_id, batch[2]?.task_id, 'a key repeated inside one batch is one task');
    assert.notEqual(batch[1]?.task_id, a.task_id);
  });

  await t.test('bad submissions are rejected with a clear code and nothing is stored', async () => {
    const before = (await c.api.all()).length;
    const cases: Array<[unknown, string]> = [
      [{ task_type: 'launch_rocket', payload: {} }, 'RC_ERR_TASK_UNKNOWN_TYPE'],
      [{ task_type: 'exec', payload: { command: 'ls -l' } }, 'RC_ERR_TASK_PAYLOAD'],
      [{ task_type: 'echo', payload: { message: 'x' }, requirements: { min_ram: 4 } }, 'RC_ERR_TASK_REQUIREMENTS'],
      [{ task_type: 'echo', payload: { message: 'x' }, priority: 'asap' }, 'RC_ERR_TASK_INVALID'],
      [[{ task_type: 'echo', payload: { message: 'ok' } }, { task_type: 'nope' }], 'RC_ERR_TASK_UNKNOWN_TYPE'],
    ];
    for (const [body, code] of cases) {
      const res = await c.api.request('POST', '/api/v1/tasks', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(errorCode(res.body), code, JSON.stringify(res.body));
    }
    const garbage = await fetch(`${c.master.httpUrl}/api/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${c.api.token}` }, body: '{"task_type":' });
    assert.equal(garbage.status, 400);
    assert.equal((await c.api.all()).length, before, 'a rejected batch stores none of its tasks');
  });

  await t.test('writes need the API token: 401 without, 403 when wrong; reads stay open', async () => {
    const none = await c.api.request('POST', '/api/v1/tasks', { task_type: 'echo', payload: { message: 'x' } }, null);
    assert.equal(none.status, 401);
    assert.equal(errorCode(none.body), 'RC_ERR_AUTH_REQUIRED');
    const wrong = await c.api.request('POST', '/api/v1/tasks', { task_type: 'echo', payload: { message: 'x' } }, 'not-the-token');
    assert.equal(wrong.status, 403);
    const read = await c.api.request('GET', '/api/v1/tasks?limit=1', undefined, null);
    assert.equal(read.status, 200);
  });

  await t.test('a queued task nobody can run says why, and cancelling it is immediate', async () => {
    const task = await c.api.submit({ task_type: 'echo', payload: { message: 'x' }, requirements: { min_memory_gb: 100000 } });
    const waiting = await waitFor(async () => {
      const t2 = await c.api.task(task.task_id);
      return t2.wait_reason ? t2 : null;
    }, 10_000, 'a wait reason');
    assert.match(waiting.wait_reason ?? '', /memory/);
    assert.equal(waiting.status, 'queued');
    const res = await c.api.request('POST', `/api/v1/tasks/${task.task_id}/cancel`, {});
    assert.equal(res.status, 200);
    assert.equal((res.body as Task).status, 'cancelled');
    assert.equal((await c.api.task(task.task_id)).status, 'cancelled');
    const again = await c.api.request('POST', `/api/v1/tasks/${task.task_id}/cancel`, {});
    assert.equal(again.status, 409);
    assert.equal(errorCode(again.body), 'RC_ERR_TASK_FINAL');
  });

  await t.test('cancelling a running task kills its process', async () => {
    const pidFile = join(c.root, 'cancel.pid');
    const task = await c.api.submit({ task_type: 'exec', payload: { command: ['/bin/sh', '-c', `echo $$ > ${pidFile}; exec sleep 60`] } });
    await c.api.waitForStatus(task.task_id, 'running');
    const pid = await pidFrom(pidFile);
    assert.ok(isAlive(pid));
    const res = await c.api.request('POST', `/api/v1/tasks/${task.task_id}/cancel`, {});
    assert.equal((res.body as Task).status, 'cancelled');
    await waitFor(() => !isAlive(pid), 10_000, `process ${pid} killed`);
  });

  await t.test('a timeout kills the whole process tree and the task ends timed_out', async () => {
    const pidFile = join(c.root, 'tree.pid');
    const script = `sleep 60 & echo $! > ${pidFile}.child; echo $$ > ${pidFile}; wait`;
    const task = await c.api.submit({ task_type: 'exec', payload: { command: ['/bin/sh', '-c', script] }, timeout_s: 1, max_retries: 0 });
    const parent = await pidFrom(pidFile);
    const child = await pidFrom(`${pidFile}.child`);
    const done = await c.api.waitForStatus(task.task_id, ['timed_out', 'failed', 'succeeded']);
    assert.equal(done.status, 'timed_out');
    await waitFor(() => !isAlive(parent) && !isAlive(child), 10_000, 'the shell and its child sleep are gone');
  });

  await t.test('failed tasks are retried up to max_retries, then stay failed (the dead-letter list)', async () => {
    const task = await c.api.submit({ task_type: 'exec', payload: { command: ['/bin/sh', '-c', 'echo boom; exit 3'] }, max_retries: 2 });
    const done = await c.api.waitForStatus(task.task_id, ['failed', 'succeeded'], 30_000);
    assert.equal(done.status, 'failed');
    assert.equal(done.attempts, 3, 'one run plus two retries');
    assert.equal(done.retries, 2);
    assert.equal(done.result?.exit_code, 3);
    assert.equal(done.events?.filter((e) => e.kind === 'retry_scheduled').length, 2);
    const dead = await c.api.list('status=failed');
    assert.ok(dead.some((d) => d.task_id === task.task_id));
    assert.ok(dead.every((d) => d.status === 'failed'));
  });

  await t.test('output bigger than a frame is cut to fit, marked truncated, and the worker carries on', async () => {
    const script = "process.stdout.write('y\\n'.repeat(700000))";
    const big = await c.api.submit({ task_type: 'exec', payload: { command: [process.execPath, '-e', script] }, max_retries: 0 });
    const done = await c.api.waitForStatus(big.task_id, ['succeeded', 'failed', 'timed_out'], 30_000);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.result?.truncated, true);
    assert.ok((done.result?.output.length ?? 0) > 100_000, 'keeps most of what fits');
    const metrics = await (await fetch(`${c.master.httpUrl}/metrics`)).text();
    assert.match(metrics, /^rc_task_output_truncated_total [1-9]/m, 'the cut is counted');
    const after = await c.api.submit({ task_type: 'echo', payload: { message: 'still here' } });
    assert.equal((await c.api.waitForStatus(after.task_id, 'succeeded')).result?.output.trim(), 'still here');
  });

  await t.test('a payload too big for one frame is refused at submit', async () => {
    const res = await c.api.request('POST', '/api/v1/tasks', { task_type: 'echo', payload: { message: 'x'.repeat(1_100_000) } });
    assert.equal(res.status, 400);
    assert.equal(errorCode(res.body), 'RC_ERR_TASK_PAYLOAD');
  });

  await t.test('/text/tasks is an aligned table', async () => {
    const text = await (await fetch(`${c.master.httpUrl}/text/tasks?limit=5`)).text();
    const [header, ...rows] = text.trimEnd().split('\n');
    assert.match(header ?? '', /^TASK\s+TYPE\s+PRIORITY\s+STATUS\s+DEVICE/);
    assert.equal(rows.length, 5);
    const col = header!.indexOf('STATUS');
    assert.ok(rows.every((r) => /^(queued|assigned|running|succeeded|failed|timed_out|cancelled)\b/.test(r.slice(col))));
  });
});
