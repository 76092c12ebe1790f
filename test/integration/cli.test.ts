import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnBin, startMaster, startWorker, tempDir } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

interface CliRun {
  code: number | string;
  stdout: string;
  stderr: string;
}

async function rc(args: string[], env: Record<string, string>): Promise<CliRun> {
  const run = spawnBin('rc', args, env);
  let stdout = '';
  let stderr = '';
  run.proc.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  run.proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await run.exited;
  return { code, stdout, stderr };
}

test('the rc command line against a real master and worker', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master') });
  startWorker(t, m, { dataDir: join(root, 'w'), deviceId: 'cli-worker' });
  await waitFor(async () => ((await (await fetch(`${m.httpUrl}/text/devices?format=json&status=online`)).json()) as unknown[]).length === 1, 20_000, 'worker online');
  const env = { RC_MASTER: m.httpUrl, RC_DATA_DIR: m.dataDir, RC_API_TOKEN: '' };

  await t.test('submit --wait prints the result and exits 0', async () => {
    const run = await rc(['submit', 'echo', '--payload', '{"message":"hi from rc"}', '--wait'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /succeeded/);
    assert.match(run.stdout, /hi from rc/);
  });

  await t.test('a task that fails makes submit --wait exit 1', async () => {
    const run = await rc(['submit', 'exec', '--payload', '{"command":["/bin/sh","-c","exit 4"]}', '--retries', '0', '--wait'], env);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /failed \(exit 4/);
  });

  await t.test('usage errors exit 2 with one clear line', async () => {
    const badJson = await rc(['submit', 'echo', '--payload', '{nope'], env);
    assert.equal(badJson.code, 2);
    assert.match(badJson.stderr, /--payload: not valid JSON/);
    const badType = await rc(['submit', 'teleport', '--payload', '{}'], env);
    assert.equal(badType.code, 2);
    assert.match(badType.stderr, /RC_ERR_TASK_UNKNOWN_TYPE/);
    const badRequire = await rc(['submit', 'echo', '--payload', '{"message":"x"}', '--require', 'min_memory_gb=lots'], env);
    assert.equal(badRequire.code, 2);
    const noToken = await rc(['submit', 'echo', '--payload', '{"message":"x"}'], { ...env, RC_DATA_DIR: join(root, 'nowhere') });
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /no API token/);
  });

  await t.test('an unreachable master exits 3', async () => {
    const run = await rc(['tasks'], { ...env, RC_MASTER: 'http://127.0.0.1:9' });
    assert.equal(run.code, 3);
    assert.match(run.stderr, /master unreachable/);
  });

  await t.test('submit prints the id; task, tasks and cancel work with it', async () => {
    const submit = await rc(['submit', 'echo', '--payload', '{"message":"x"}', '--require', 'min_memory_gb=100000', '--priority', 'low'], env);
    assert.equal(submit.code, 0, submit.stderr);
    const id = submit.stdout.trim();
    assert.match(id, /^[0-9a-f-]{36}$/);
    const show = await waitFor(async () => {
      const run = await rc(['task', id], env);
      return /wait_reason:.*memory/.test(run.stdout) ? run : null;
    }, 10_000, 'rc task shows why it waits');
    assert.match(show.stdout, /status:\s+queued/);
    const list = await rc(['tasks', '--status', 'queued'], env);
    assert.match(list.stdout.split('\n')[0] ?? '', /^TASK\s+TYPE/);
    assert.ok(list.stdout.includes(id));
    const json = await rc(['tasks', '--status', 'queued', '--json'], env);
    assert.ok((JSON.parse(json.stdout) as Array<{ task_id: string }>).some((x) => x.task_id === id));
    const cancel = await rc(['cancel', id], env);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(cancel.stdout.trim(), `${id} cancelled`);
    const again = await rc(['cancel', id], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /409/);
  });
});
