import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Api, type Task } from '../helpers/api.js';
import { startMaster, startWorker, tempDir } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

interface Profile {
  role: string;
  tags: string[];
  shell: boolean;
}

const DEVICES: Record<string, Profile> = {
  'phone-a': { role: 'mobile', tags: ['arm', 'battery'], shell: false },
  'pi-b': { role: 'pi', tags: ['arm', 'always-on'], shell: true },
  'laptop-c': { role: 'compute', tags: ['x86'], shell: false },
};

function satisfies(device: string, task: Task): boolean {
  const p = DEVICES[device];
  if (!p) return false;
  const req = task.requirements as { role?: string; tags?: string[]; device_id?: string };
  if (task.task_type === 'shell' && !p.shell) return false;
  if (req.role !== undefined && req.role !== p.role) return false;
  if (req.device_id !== undefined && req.device_id !== device) return false;
  return (req.tags ?? []).every((tag) => p.tags.includes(tag));
}

function mixedTasks(): Array<Record<string, unknown>> {
  const echo = (requirements: Record<string, unknown>, n: number): Array<Record<string, unknown>> =>
    Array.from({ length: n }, (_, i) => ({ task_type: 'echo', payload: { message: `m${i}` }, requirements }));
  return [
    ...echo({}, 60),
    ...echo({ role: 'pi' }, 30),
    ...echo({ tags: ['arm'] }, 30),
    ...Array.from({ length: 20 }, () => ({ task_type: 'shell', payload: { script: 'echo from-shell' } })),
    ...echo({ device_id: 'laptop-c' }, 20),
    ...Array.from({ length: 20 }, () => ({ task_type: 'sleep', payload: { seconds: 0.05 }, requirements: { tags: ['x86'] }, priority: 'high' })),
    ...echo({ min_memory_gb: 100000 }, 7),
    ...echo({ tags: ['nonexistent'] }, 7),
    ...echo({ role: 'gpu-box' }, 6),
  ];
}

test('three different workers and 200 mixed tasks: every runnable task lands on a device that satisfies it; the rest wait with a reason', async (t) => {
  const root = tempDir(t);
  const master = await startMaster(t, { dataDir: join(root, 'master') });
  startWorker(t, master, { dataDir: join(root, 'a'), deviceId: 'phone-a', role: 'mobile', tags: ['arm', 'battery'], maxTasks: 2 });
  startWorker(t, master, { dataDir: join(root, 'b'), deviceId: 'pi-b', role: 'pi', tags: ['arm', 'always-on'], maxTasks: 3, extraArgs: ['--allow', 'shell'] });
  startWorker(t, master, { dataDir: join(root, 'c'), deviceId: 'laptop-c', role: 'compute', tags: ['x86'], maxTasks: 4 });
  const api = new Api(master.httpUrl, master.dataDir);
  await waitFor(async () => ((await (await fetch(`${master.httpUrl}/text/devices?format=json&status=online`)).json()) as unknown[]).length === 3, 20_000, 'three workers online');

  const submitted = await api.submitBatch(mixedTasks());
  assert.equal(submitted.length, 200);
  const runnable = submitted.slice(0, 180).map((s) => s.task_id);
  const unrunnable = submitted.slice(180).map((s) => s.task_id);

  await waitFor(async () => {
    const done = await api.list('status=succeeded&limit=1000');
    return done.length === 180;
  }, 60_000, 'all 180 runnable tasks succeeded');

  const all = new Map((await api.all()).map((task) => [task.task_id, task]));
  for (const id of runnable) {
    const task = all.get(id)!;
    assert.equal(task.status, 'succeeded', id);
    assert.ok(task.device_id !== null && satisfies(task.device_id, task), `${task.task_type} ${JSON.stringify(task.requirements)} ran on ${task.device_id}`);
  }
  const used = new Set(runnable.map((id) => all.get(id)!.device_id));
  assert.equal(used.size, 3, 'the work spread over all three devices');

  for (const id of unrunnable) {
    const task = await api.task(id);
    assert.equal(task.status, 'queued', id);
    assert.ok(task.wait_reason && task.wait_reason.length > 0, `${id} carries a reason`);
    const req = task.requirements as { min_memory_gb?: number; tags?: string[]; role?: string };
    if (req.min_memory_gb !== undefined) assert.match(task.wait_reason, /memory/);
    if (req.tags !== undefined) assert.match(task.wait_reason, /nonexistent|tag/);
    if (req.role !== undefined) assert.match(task.wait_reason, /gpu-box|role/);
  }

  // pi-b was started with `--allow shell` only: it does not offer exec, whatever else fits.
  const execOnPi = await api.submit({ task_type: 'exec', payload: { command: ['true'] }, requirements: { device_id: 'pi-b' } });
  const waiting = await waitFor(async () => {
    const task = await api.task(execOnPi.task_id);
    return task.wait_reason ? task : null;
  }, 10_000, 'a reason for the exec task');
  assert.equal(waiting.status, 'queued');
  assert.match(waiting.wait_reason ?? '', /exec/);
});
