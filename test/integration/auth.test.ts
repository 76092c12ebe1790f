import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { signRegister, type RegisterAuth } from '../../src/protocol/auth.js';
import { Api } from '../helpers/api.js';
import { spawnBin, startMaster, startWorker, tempDir, type RunningMaster } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { frame, WireClient, type Frame } from '../helpers/wire-client.js';

interface DeviceRow {
  device_id: string;
  status: string;
  role: string;
  last_seen: string;
}

async function devices(m: RunningMaster): Promise<DeviceRow[]> {
  return (await (await fetch(`${m.httpUrl}/text/devices?format=json`)).json()) as DeviceRow[];
}

function joinToken(m: RunningMaster): string {
  return readFileSync(join(m.dataDir, 'join-token'), 'utf8').trim();
}

function register(deviceId: string, auth: RegisterAuth | undefined, role = 'worker'): Frame {
  return frame('register', { protocol_version: '1.0', device_id: deviceId, role, ...(auth ? { auth } : {}) }, deviceId);
}

/** Send one frame on a fresh connection; return the reply and whether the master then closed it. */
async function attempt(m: RunningMaster, msg: Frame): Promise<{ reply: Frame; closed: boolean }> {
  const c = await WireClient.connect(m.tcpPort);
  try {
    const reply = await c.request(msg);
    const closed = await c.waitClosed(3000).then(() => true, () => false);
    return { reply, closed };
  } finally {
    c.close();
  }
}

test('enrolment: the join token, per-device secrets, replay protection and rotation', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master') });
  // stderr is a separate pipe from master.json: the line may be read a moment after the file.
  await waitFor(() => /join a worker: rc-worker --join \S+ --token \S+/.test(m.output()), 10_000, 'the master prints the exact join line');
  startWorker(t, m, { dataDir: join(root, 'legit'), deviceId: 'legit', role: 'pi' });
  await waitFor(async () => (await devices(m)).some((d) => d.device_id === 'legit' && d.status === 'online'), 20_000, 'legit worker enrolled');
  const secret = await waitFor(() => {
    try {
      return readFileSync(join(root, 'legit', 'device-secret'), 'utf8').trim();
    } catch {
      return null;
    }
  }, 10_000, 'the worker keeps its device secret');
  assert.ok(secret.length >= 32);
  assert.equal(statSync(join(root, 'legit', 'device-secret')).mode & 0o777, 0o600, 'only the worker\'s user can read its secret');

  await t.test('the join token is printed for the operator but never written to the log that HTTP serves', async () => {
    const token = joinToken(m);
    assert.ok(m.output().includes(token), 'printed on the terminal');
    const logs = await (await fetch(`${m.httpUrl}/text/logs?format=json&limit=1000&level=trace`)).text();
    assert.ok(logs.length > 100, 'the log endpoint has content');
    assert.ok(!logs.includes(token), '/text/logs does not leak the join token');
  });

  await t.test('a register without a proof, or with a wrong token, is refused, closed, and stores nothing', async () => {
    const none = await attempt(m, register('stranger', undefined));
    assert.equal(none.reply.data['code'], 'RC_ERR_AUTH_REQUIRED');
    assert.ok(none.closed, 'connection closed');
    const wrong = await attempt(m, register('stranger', signRegister('join-hmac-sha256', 'not-the-join-token', 'stranger')));
    assert.equal(wrong.reply.data['code'], 'RC_ERR_AUTH_INVALID');
    assert.ok(wrong.closed);
    assert.ok(!(await devices(m)).some((d) => d.device_id === 'stranger'), 'no device record was created');
    assert.match(m.output(), /register refused.*127\.0\.0\.1|127\.0\.0\.1.*register refused/, 'logged with the peer address');
  });

  await t.test('a replayed register is refused', async () => {
    const enrol = await attempt(m, register('replay-dev', signRegister('join-hmac-sha256', joinToken(m), 'replay-dev')));
    const secret = (enrol.reply.data['result'] as { device_secret?: string }).device_secret;
    assert.ok(secret, 'a new device is given its secret');
    const msg = register('replay-dev', signRegister('device-hmac-sha256', secret, 'replay-dev'));
    const first = await attempt(m, msg);
    assert.equal(first.reply.message_type, 'ack');
    assert.equal((first.reply.data['result'] as { device_secret?: string }).device_secret, undefined, 'the secret is given once');
    const again = await attempt(m, { ...msg, message_id: `${msg.message_id}-again` });
    assert.equal(again.reply.data['code'], 'RC_ERR_AUTH_REPLAY');
    assert.ok(again.closed);
  });

  await t.test('a stale timestamp is refused', async () => {
    const old = signRegister('join-hmac-sha256', joinToken(m), 'late-dev', new Date(Date.now() - 10 * 60_000));
    assert.equal((await attempt(m, register('late-dev', old))).reply.data['code'], 'RC_ERR_AUTH_EXPIRED');
  });

  await t.test('an enrolled device id cannot be claimed with the join token or a wrong secret', async () => {
    const before = (await devices(m)).find((d) => d.device_id === 'legit');
    const withToken = await attempt(m, register('legit', signRegister('join-hmac-sha256', joinToken(m), 'legit'), 'evil'));
    assert.equal(withToken.reply.data['code'], 'RC_ERR_AUTH_INVALID');
    const withWrongSecret = await attempt(m, register('legit', signRegister('device-hmac-sha256', 'guessed-secret-guessed-secret', 'legit'), 'evil'));
    assert.equal(withWrongSecret.reply.data['code'], 'RC_ERR_AUTH_INVALID');
    const after = (await devices(m)).find((d) => d.device_id === 'legit');
    assert.equal(after?.role, 'pi', 'the stored profile is unchanged');
    assert.equal(after?.status, before?.status);
  });

  await t.test('a heartbeat on a connection that did not register is refused', async () => {
    const res = await attempt(m, frame('heartbeat', { device_id: 'legit', metrics: { cpu_usage: 99 } }, 'legit'));
    assert.equal(res.reply.data['code'], 'RC_ERR_AUTH_REQUIRED');
  });

  await t.test('rotate-token: new joins need the new token; enrolled devices keep working', async () => {
    const oldToken = joinToken(m);
    const rotate = spawnBin('rc-master', ['rotate-token', '--data-dir', m.dataDir]);
    assert.equal(await rotate.exited, 0, rotate.output());
    const newToken = joinToken(m);
    assert.notEqual(newToken, oldToken);
    assert.ok(rotate.output().includes(newToken));
    const stale = await attempt(m, register('late-joiner', signRegister('join-hmac-sha256', oldToken, 'late-joiner')));
    assert.equal(stale.reply.data['code'], 'RC_ERR_AUTH_INVALID');
    const fresh = await attempt(m, register('late-joiner', signRegister('join-hmac-sha256', newToken, 'late-joiner')));
    assert.equal(fresh.reply.message_type, 'ack');
    // The enrolled worker restarts and proves its own secret, not the rotated token.
    const again = startWorker(t, { tcpPort: m.tcpPort, joinToken: oldToken }, { dataDir: join(root, 'legit'), deviceId: 'legit', role: 'pi' });
    await waitFor(() => /registered with master/.test(again.output()), 20_000, 'the enrolled device registers after rotation');
  });
});

test('revoking a device locks it out for good and moves its tasks', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master') });
  const api = new Api(m.httpUrl, m.dataDir);
  const victim = startWorker(t, m, { dataDir: join(root, 'victim'), deviceId: 'victim' });
  await waitFor(async () => (await devices(m)).some((d) => d.device_id === 'victim' && d.status === 'online'), 20_000, 'victim online');
  const task = await api.submit({ task_type: 'sleep', payload: { seconds: 30 }, requirements: { device_id: 'victim' } });
  await api.waitForStatus(task.task_id, 'running');

  const noToken = await api.request('POST', '/api/v1/devices/victim/revoke', {}, null);
  assert.equal(noToken.status, 401);
  const revoke = spawnBin('rc', ['device', 'revoke', 'victim'], { RC_MASTER: m.httpUrl, RC_DATA_DIR: m.dataDir });
  assert.equal(await revoke.exited, 0, revoke.output());
  assert.match(revoke.output(), /victim revoked/);

  await waitFor(() => /RC_ERR_AUTH_REVOKED/.test(victim.output()), 10_000, 'the worker is told it is revoked');
  const moved = await waitFor(async () => {
    const current = await api.task(task.task_id);
    return current.events?.some((e) => e.kind === 'requeued' && e.detail['reason'] === 'device_revoked') ? current : null;
  }, 10_000, 'its task was requeued');
  assert.equal(moved.status, 'queued');
  assert.equal(moved.retries, 0, 'revoking a device uses no retry');
  // It keeps trying with its (now useless) secret and never gets back in.
  const registrations = (victim.output().match(/registered with master/g) ?? []).length;
  await waitFor(() => (victim.output().match(/RC_ERR_AUTH_REVOKED/g) ?? []).length >= 2, 10_000, 'a second refused attempt');
  assert.equal((victim.output().match(/registered with master/g) ?? []).length, registrations, 'no register succeeded after the revoke');
});

test('--auth-reads makes reads need the token; writes are rate limited per client IP', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master'), extraArgs: ['--auth-reads'], env: { RC_HTTP_WRITES_PER_MIN: '5' } });
  const api = new Api(m.httpUrl, m.dataDir);
  assert.equal((await fetch(`${m.httpUrl}/health`)).status, 200, '/health stays open for healthchecks');
  assert.equal((await api.request('GET', '/text/devices', undefined, null)).status, 401);
  assert.equal((await api.request('GET', '/text/devices', undefined, 'wrong-token')).status, 403);
  assert.equal((await api.request('GET', '/text/devices')).status, 200);
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    statuses.push((await api.request('POST', '/api/v1/tasks', { task_type: 'echo', payload: { message: `m${i}` } })).status);
  }
  assert.deepEqual(statuses.slice(0, 5), [201, 201, 201, 201, 201]);
  assert.ok(statuses.slice(5).every((s) => s === 429), `then 429: ${statuses.join(',')}`);
  const limited = await api.request('POST', '/api/v1/tasks', { task_type: 'echo', payload: { message: 'x' } });
  assert.equal((limited.body as { code?: string }).code, 'RC_ERR_LIMIT_RATE');
  const metrics = String((await api.request('GET', '/metrics')).body);
  const hits = Number(/rc_http_errors_total\{code="RC_ERR_LIMIT_RATE",status="429"\} (\d+)/.exec(metrics)?.[1] ?? 0);
  assert.ok(hits >= 4, `each 429 is counted (${hits})`);
});

