import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Api } from '../helpers/api.js';
import { spawnBin, startMaster, startWorker, tempDir, type RunningProcess } from '../helpers/processes.js';
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

interface LiveRc extends RunningProcess {
  stdout(): string;
  stderr(): string;
}

/** An rc that keeps running (logs -f): its output so far, and a kill registered before any assertion. */
function startRc(t: TestContext, args: string[], env: Record<string, string>): LiveRc {
  const run = spawnBin('rc', args, env);
  let stdout = '';
  let stderr = '';
  run.proc.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  run.proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  t.after(async () => {
    run.kill('SIGKILL');
    await run.exited;
  });
  return { ...run, stdout: () => stdout, stderr: () => stderr };
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, read back, closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** With no worker, submitting and cancelling a task makes the master log `task cancelled` with its id. */
async function logTaskCancelled(api: Api): Promise<string> {
  const task = await api.submit({ task_type: 'echo', payload: { message: 'for the log' } });
  const res = await api.request('POST', `/api/v1/tasks/${task.task_id}/cancel`, {});
  assert.equal(res.status, 200);
  return task.task_id;
}

function parseJsonLines(text: string): unknown[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.map((l) => JSON.parse(l) as unknown);
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

  const api = new Api(m.httpUrl, m.dataDir);
  const unreachable = { ...env, RC_MASTER: `http://127.0.0.1:${await closedPort()}` };

  await t.test('status prints key: value lines; --json parses', async () => {
    const run = await rc(['status'], env);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n').filter((l) => l.trim() !== '');
    assert.ok(lines.length > 0, 'status printed nothing');
    for (const line of lines) assert.match(line, /^\s*[\w.%/ -]+:( .*)?$/, `not a key: value line: ${JSON.stringify(line)}`);
    assert.match(run.stdout, /online/i);
    const json = await rc(['status', '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as unknown;
    assert.equal(typeof parsed, 'object');
    assert.ok(parsed !== null && !Array.isArray(parsed));
  });

  await t.test('device ID prints key: value lines and recent metrics as an aligned table', async () => {
    const run = await waitFor(async () => {
      const r = await rc(['device', 'cli-worker'], env);
      return /^TIME\s+\S/m.test(r.stdout) ? r : null;
    }, 20_000, 'rc device shows a metrics table');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^device_id:\s+cli-worker$/m);
    assert.match(run.stdout, /^status:\s+online$/m);
    const table = run.stdout.slice(run.stdout.indexOf('recent metrics:')).split('\n\n')[0]!.split('\n').slice(1).filter((l) => l !== '');
    assert.ok(table.length >= 2, `header and at least one row:\n${table.join('\n')}`);
    assert.match(table[0]!, /^TIME\s+[A-Z_]+/);
    // Aligned: every row's second column ends where the header's does (numbers are right-aligned).
    const headerEnd = /^TIME\s+\S+/.exec(table[0]!)![0].length;
    for (const row of table.slice(1)) assert.match(row.slice(0, headerEnd), /\S$/, `row not aligned with header:\n${table[0]}\n${row}`);
    const json = await rc(['device', 'cli-worker', '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const body = JSON.parse(json.stdout) as { device_id?: string; device?: { device_id: string }; recent_heartbeats?: unknown[] };
    assert.equal(body.device_id ?? body.device?.device_id, 'cli-worker');
    assert.ok(Array.isArray(body.recent_heartbeats));
  });

  await t.test('--json output parses for every read command', async () => {
    const { task_id } = await api.submit({ task_type: 'echo', payload: { message: 'json check' } });
    await api.waitForStatus(task_id, 'succeeded');
    const commands: Array<[string[], (v: unknown) => boolean]> = [
      [['status', '--json'], (v) => typeof v === 'object' && v !== null],
      [['devices', '--json'], (v) => Array.isArray(v) && v.some((d) => (d as { device_id: string }).device_id === 'cli-worker')],
      [['device', 'cli-worker', '--json'], (v) => typeof v === 'object' && v !== null],
      [['tasks', '--json'], (v) => Array.isArray(v) && v.some((x) => (x as { task_id: string }).task_id === task_id)],
      [['task', task_id, '--json'], (v) => (v as { task_id: string }).task_id === task_id],
      [['health', '--json'], (v) => (v as { status: string }).status === 'ok'],
    ];
    for (const [args, check] of commands) {
      const run = await rc(args, env);
      assert.equal(run.code, 0, `rc ${args.join(' ')}: ${run.stderr}`);
      assert.ok(check(JSON.parse(run.stdout)), `rc ${args.join(' ')} printed ${run.stdout}`);
    }
    const logs = await rc(['logs', '--json'], env);
    assert.equal(logs.code, 0, logs.stderr);
    const lines = parseJsonLines(logs.stdout);
    assert.ok(lines.length > 0, 'rc logs --json printed no lines');
    assert.ok(lines.every((l) => typeof l === 'object' && l !== null && 'msg' in l), logs.stdout);
    const output = await rc(['logs', '--task', task_id, '--json'], env);
    assert.equal(output.code, 0, output.stderr);
    assert.equal((parseJsonLines(output.stdout)[0] as { task_id: string }).task_id, task_id);
  });

  await t.test('logs without -f prints recent lines for people and exits', async () => {
    const run = await rc(['logs'], env);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n').filter((l) => l !== '');
    assert.ok(lines.length > 0);
    for (const line of lines) assert.match(line, /^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \S+ /, line);
    assert.match(run.stdout, /task \w+ task_id=/, 'task log lines carry their fields');
    const warnOnly = await rc(['logs', '--level', 'warn'], env);
    assert.equal(warnOnly.code, 0, warnOnly.stderr);
    assert.doesNotMatch(warnOnly.stdout, / INFO /);
  });

  await t.test('exit codes: 0 ok, 1 failed, 2 usage, 3 unreachable, across commands', async () => {
    const cases: Array<[string[], number, Record<string, string>]> = [
      [['status'], 0, env],
      [['devices', '--status', 'online'], 0, env],
      [['device', 'cli-worker'], 0, env],
      [['device', 'no-such-device'], 1, env],
      [['task', '01900000-0000-7000-8000-000000000000'], 1, env],
      [['drain', 'no-such-device'], 1, env],
      [['no-such-command'], 2, env],
      [['devices', '--no-such-flag'], 2, env],
      [['logs', '--level', 'loud'], 2, env],
      [['submit'], 2, env],
      [['submit', 'echo', '--count', '0'], 2, env],
      [['submit', 'echo', '--count', '2', '--idempotency-key', 'k'], 2, env],
      [['status'], 3, unreachable],
      [['device', 'cli-worker'], 3, unreachable],
      [['logs'], 3, unreachable],
      [['logs', '-f'], 3, unreachable],
      [['drain', 'cli-worker'], 3, unreachable],
      [['submit', 'echo', '--count', '2'], 3, unreachable],
    ];
    for (const [args, expected, runEnv] of cases) {
      const run = await rc(args, runEnv);
      assert.equal(run.code, expected, `rc ${args.join(' ')} exited ${run.code}, not ${expected}: ${run.stderr}`);
      if (expected !== 0) assert.match(run.stderr, /\S/, `rc ${args.join(' ')} said nothing on stderr`);
      if (expected === 3) assert.match(run.stderr, /master unreachable/);
    }
  });

  await t.test('rc --help lists every command with a description', async () => {
    const run = await rc(['--help'], env);
    assert.equal(run.code, 0);
    for (const command of ['status', 'devices', 'device', 'submit', 'tasks', 'task', 'cancel', 'logs', 'drain', 'undrain']) {
      assert.match(run.stdout, new RegExp(`^  ${command}\\b.*\\s{2,}\\S`, 'm'), `${command} missing from:\n${run.stdout}`);
    }
  });

  await t.test('submit --count 20 --wait prints a summary with 20 succeeded, without progress redraws or colour off a TTY', async () => {
    const before = (await api.all()).length;
    const run = await rc(['submit', 'echo', '--payload', '{"message":"many"}', '--count', '20', '--wait'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^20 tasks in [\d.]+ s \([\d.]+ tasks\/s\): 20 succeeded$/m);
    assert.ok(!run.stdout.includes('\u001b[') && !run.stderr.includes('\u001b['), 'no ANSI escapes off a TTY');
    assert.ok(!run.stderr.includes('\r'), 'no progress bar redraws off a TTY');
    assert.equal((await api.all()).length, before + 20);
    const ids = await rc(['submit', 'echo', '--payload', '{"message":"ids"}', '--count', '3'], env);
    assert.equal(ids.code, 0, ids.stderr);
    assert.equal(ids.stdout.trim().split('\n').filter((l) => /^[0-9a-f-]{36}$/.test(l)).length, 3);
  });

  await t.test('submit --count --wait exits 1 and lists what did not succeed', async () => {
    const run = await rc(['submit', 'exec', '--payload', '{"command":["/bin/sh","-c","exit 3"]}', '--retries', '0', '--count', '2', '--wait', '--json'], env);
    assert.equal(run.code, 1, run.stderr);
    const summary = JSON.parse(run.stdout) as { total: number; counts: Record<string, number>; not_succeeded: unknown[] };
    assert.equal(summary.total, 2);
    assert.equal(summary.counts['failed'], 2);
    assert.equal(summary.not_succeeded.length, 2);
  });

  await t.test('submit --from FILE submits every line; a bad line is exit 2 and submits nothing', async () => {
    const good = JSON.stringify({ task_type: 'echo', payload: { message: 'from file' } });
    const goodFile = join(root, 'good.jsonl');
    writeFileSync(goodFile, `${good}\n\n${good}\n${good}\n`);
    const ok = await rc(['submit', '--from', goodFile, '--wait'], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^3 tasks in .*: 3 succeeded$/m);

    const badFile = join(root, 'bad.jsonl');
    writeFileSync(badFile, `${good}\n${good}\n{"task_type": "echo", oops}\n${good}\n`);
    const before = (await api.all()).length;
    const bad = await rc(['submit', '--from', badFile], env);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /line 3/);
    const notObject = join(root, 'array.jsonl');
    writeFileSync(notObject, `${good}\n[1,2]\n`);
    const array = await rc(['submit', '--from', notObject], env);
    assert.equal(array.code, 2);
    assert.match(array.stderr, /line 2/);
    const mixed = await rc(['submit', 'echo', '--from', goodFile], env);
    assert.equal(mixed.code, 2);
    assert.equal((await api.all()).length, before, 'nothing was submitted');
  });

  await t.test('drain keeps new tasks off a device; undrain lets them run', async () => {
    const drain = await rc(['drain', 'cli-worker'], env);
    assert.equal(drain.code, 0, drain.stderr);
    assert.equal(drain.stdout.trim(), 'cli-worker drained');
    try {
      const task = await api.submit({ task_type: 'echo', payload: { message: 'after drain' }, requirements: { device_id: 'cli-worker' } });
      const waiting = await waitFor(async () => {
        const v = await api.task(task.task_id);
        return v.wait_reason !== null && /drain/.test(v.wait_reason) ? v : null;
      }, 10_000, 'the task waits because the device is drained');
      assert.equal(waiting.status, 'queued');
      const undrain = await rc(['undrain', 'cli-worker'], env);
      assert.equal(undrain.code, 0, undrain.stderr);
      assert.equal(undrain.stdout.trim(), 'cli-worker undrained');
      await api.waitForStatus(task.task_id, 'succeeded');
    } finally {
      await api.request('POST', '/api/v1/devices/cli-worker/undrain', {});
    }
  });

  await t.test('logs -f --task prints an exec task\'s output lines and exits with its outcome', async () => {
    const ok = await api.submit({ task_type: 'exec', payload: { command: ['/bin/sh', '-c', 'echo first line; sleep 0.3; echo second line'] } });
    const run = await rc(['logs', '-f', '--task', ok.task_id], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^first line\nsecond line\n$/);
    const bad = await api.submit({ task_type: 'exec', payload: { command: ['/bin/sh', '-c', 'echo doomed; exit 5'] }, max_retries: 0 });
    const failed = await rc(['logs', '-f', '--task', bad.task_id], env);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stdout, /doomed/);
    const json = await rc(['logs', '-f', '--task', ok.task_id, '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const events = parseJsonLines(json.stdout) as Array<{ task_id: string; line: string }>;
    assert.deepEqual(events.map((e) => [e.task_id, e.line]), [[ok.task_id, 'first line'], [ok.task_id, 'second line']]);
    const missing = await rc(['logs', '-f', '--task', '01900000-0000-7000-8000-000000000000'], env);
    assert.equal(missing.code, 1, missing.stderr);
  });
});

test('rc logs -f survives a master restart and stops cleanly on SIGTERM', async (t) => {
  const root = tempDir(t);
  const dataDir = join(root, 'master');
  const first = await startMaster(t, { dataDir });
  const env = { RC_MASTER: first.httpUrl, RC_DATA_DIR: dataDir, RC_API_TOKEN: '' };
  const follow = startRc(t, ['logs', '-f'], env);
  // The stream sends only what is logged after rc connects, so keep making lines until one shows up.
  const before = await waitFor(async () => {
    const id = await logTaskCancelled(new Api(first.httpUrl, dataDir));
    return waitFor(() => follow.stdout().includes(id), 2000, 'line').then(() => id, () => null);
  }, 15_000, () => `rc logs -f printing a line before the restart:\n${follow.stdout()}\n${follow.stderr()}`);
  assert.match(follow.stdout(), new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  \\S+ task cancelled .*task_id=${before}`, 'm'));

  first.kill('SIGKILL');
  await first.exited;
  await waitFor(() => /reconnecting in/.test(follow.stderr()), 10_000, () => `a reconnect notice:\n${follow.stderr()}`);
  const second = await startMaster(t, { dataDir, httpPort: first.httpPort });
  assert.equal(second.httpPort, first.httpPort);
  await waitFor(() => /reconnected/.test(follow.stderr()), 15_000, () => `rc to reconnect:\n${follow.stderr()}`);
  const after = await logTaskCancelled(new Api(second.httpUrl, dataDir));
  await waitFor(() => follow.stdout().includes(after), 10_000, () => `the line after the restart:\n${follow.stdout()}\n${follow.stderr()}`);
  assert.equal(follow.proc.exitCode, null, 'the same rc process is still following');

  follow.kill('SIGTERM');
  assert.equal(await follow.exited, 0, follow.stderr());
});
