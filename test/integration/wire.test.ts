import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Api } from '../helpers/api.js';
import { startMaster, tempDir, type RunningMaster } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { WireClient, frame, oneShot, pythonHeartbeat, pythonRegister } from '../helpers/wire-client.js';

const SMALL_LIMIT = 4096;

async function master(t: TestContext): Promise<RunningMaster> {
  // --insecure: these tests speak raw frames and the legacy one-shot dialect, without enrolment proofs.
  return startMaster(t, { dataDir: tempDir(t), extraArgs: ['--max-line-bytes', String(SMALL_LIMIT), '--insecure'] });
}

async function client(t: TestContext, m: RunningMaster): Promise<WireClient> {
  const c = await WireClient.connect(m.tcpPort);
  t.after(() => c.close());
  return c;
}

function register(deviceId: string): ReturnType<typeof frame> {
  return frame('register', { protocol_version: '1.0', device_id: deviceId, role: 'pi', hardware: { cpu_count: 4, memory_total_gb: 1.8 } }, deviceId);
}

test('wire protocol against a real master', async (t) => {
  const m = await master(t);

  await t.test('a message split across many TCP writes is reassembled', async (t) => {
    const c = await client(t, m);
    const msg = register('split-dev');
    const line = `${JSON.stringify(msg)}\n`;
    for (let i = 0; i < line.length; i += 7) {
      await c.writeRaw(line.slice(i, i + 7));
      if (i % 70 === 0) await sleep(2); // separate segments, not one coalesced write
    }
    const reply = await c.reply(msg.message_id);
    assert.equal(reply.message_type, 'ack');
    assert.equal((reply.data['result'] as Record<string, unknown>)['device_id'], 'split-dev');
  });

  await t.test('many messages in one write each get their own reply, in order', async (t) => {
    const c = await client(t, m);
    const reg = register('merged-dev');
    const beats = Array.from({ length: 50 }, () => frame('heartbeat', { metrics: { cpu_usage: 10, active_tasks: 0 } }, 'merged-dev'));
    await c.writeRaw([reg, ...beats].map((f) => `${JSON.stringify(f)}\n`).join(''));
    const frames = await c.waitForFrames(51);
    assert.deepEqual(
      frames.map((f) => f.data['original_message_id']),
      [reg, ...beats].map((f) => f.message_id),
    );
    assert.ok(frames.every((f) => f.message_type === 'ack'), 'every message acked');
  });

  await t.test('garbage gets an error frame with a code and the connection stays open', async (t) => {
    const c = await client(t, m);
    await c.writeRaw('this is not json\n');
    const [err] = await c.waitForFrames(1);
    assert.equal(err?.message_type, 'error');
    assert.equal(err?.data['code'], 'RC_ERR_PROTO_INVALID_JSON');
    const status = frame('status', {});
    const reply = await c.request(status);
    assert.equal(reply.message_type, 'ack', 'the same connection still answers');
  });

  await t.test('a valid frame with wrong field types is rejected by schema and the connection lives on', async (t) => {
    const c = await client(t, m);
    await c.request(register('typed-dev'));
    const bad = frame('heartbeat', { metrics: { cpu_usage: 'very high', active_tasks: -1 } }, 'typed-dev');
    const err = await c.request(bad);
    assert.equal(err.message_type, 'error');
    assert.equal(err.data['code'], 'RC_ERR_PROTO_SCHEMA');
    assert.match(String(err.data['message']), /cpu_usage/);
    const ok = await c.request(frame('heartbeat', { metrics: { cpu_usage: 3 } }, 'typed-dev'));
    assert.equal(ok.message_type, 'ack');
  });

  await t.test('an unknown message type and a bad envelope get their own codes', async (t) => {
    const c = await client(t, m);
    const unknown = { ...frame('status', {}), message_type: 'launch_missiles' };
    assert.equal((await c.request(unknown)).data['code'], 'RC_ERR_PROTO_UNKNOWN_TYPE');
    const badEnvelope = { ...frame('status', {}), timestamp: 12 } as unknown as ReturnType<typeof frame>;
    assert.equal((await c.request(badEnvelope)).data['code'], 'RC_ERR_PROTO_INVALID_ENVELOPE');
  });

  await t.test('an oversized line gets RC_ERR_PROTO_LINE_TOO_LONG and the connection is closed', async (t) => {
    const c = await client(t, m);
    const bystander = await client(t, m);
    // No newline at all: the master must give up once the limit is crossed, not wait for one.
    await c.writeRaw(`{"message_type":"status","data":"${'x'.repeat(SMALL_LIMIT * 4)}`);
    const [err] = await c.waitForFrames(1);
    assert.equal(err?.data['code'], 'RC_ERR_PROTO_LINE_TOO_LONG');
    await c.waitClosed();
    const reply = await bystander.request(frame('status', {}));
    assert.equal(reply.message_type, 'ack', 'other clients are unaffected');
  });

  await t.test('a heartbeat from an unknown device gets RC_ERR_DEVICE_UNKNOWN', async (t) => {
    const c = await client(t, m);
    const reply = await c.request(frame('heartbeat', { metrics: {} }, 'never-registered'));
    assert.equal(reply.data['code'], 'RC_ERR_DEVICE_UNKNOWN');
  });

  await t.test('a quiet heartbeat (reply: false) is recorded but not acked; errors are still answered', async (t) => {
    const c = await client(t, m);
    await c.request(register('quiet-dev'));
    const quiet = frame('heartbeat', { metrics: { cpu_usage: 77 }, reply: false }, 'quiet-dev');
    const asking = frame('heartbeat', { metrics: { cpu_usage: 12 } }, 'quiet-dev');
    await c.send(quiet);
    const info = await c.request(frame('device_info', { device_id: 'quiet-dev' }));
    const device = (info.data['result'] as { device: { metrics: { cpu_usage: number } } }).device;
    assert.equal(device.metrics.cpu_usage, 77, 'the quiet heartbeat was recorded');
    assert.equal((await c.request(asking)).message_type, 'ack', 'a heartbeat without the field is answered');
    // Replies leave in order, so an ack for the quiet one would be here by now.
    assert.ok(!c.frames.some((f) => f.data['original_message_id'] === quiet.message_id), 'no ack for the quiet heartbeat');
    const wrong = frame('heartbeat', { device_id: 'someone-else', metrics: {}, reply: false }, 'quiet-dev');
    assert.equal((await c.request(wrong)).data['code'], 'RC_ERR_DEVICE_ID_MISMATCH', 'a quiet heartbeat still gets its error');
  });

  await t.test('a connection cannot speak for another device after registering', async (t) => {
    const c = await client(t, m);
    await c.request(register('honest-dev'));
    const reply = await c.request(frame('heartbeat', { device_id: 'someone-else', metrics: {} }, 'honest-dev'));
    assert.equal(reply.data['code'], 'RC_ERR_DEVICE_ID_MISMATCH');
  });

  await t.test('a newer protocol major version is refused', async (t) => {
    const c = await client(t, m);
    const reply = await c.request(frame('register', { protocol_version: '2.0', device_id: 'future-dev' }, 'future-dev'));
    assert.equal(reply.data['code'], 'RC_ERR_PROTO_VERSION');
  });

  await t.test('one-shot Python clients get replies without sending a newline', async () => {
    const reg = await oneShot(m.tcpPort, pythonRegister('py-phone'));
    assert.equal(reg.message_type, 'ack');
    const result = reg.data['result'] as Record<string, unknown>;
    assert.equal(result['success'], true);
    assert.equal(typeof result['heartbeat_interval'], 'number');

    const beat = await oneShot(m.tcpPort, pythonHeartbeat('py-phone'));
    assert.equal(beat.message_type, 'ack');

    const info = await oneShot(m.tcpPort, { ...frame('device_info', { device_id: 'py-phone' }, 'py-status'), receiver_id: null });
    const device = (info.data['result'] as { device: Record<string, unknown> }).device;
    assert.equal(device['cpu_count'], 8, 'legacy top-level hardware is understood');
    assert.equal(device['memory_total_gb'], 3.72);
    assert.equal(device['role'], 'mobile');
    assert.equal((device['metrics'] as Record<string, unknown>)['disk_usage'], 40.1, 'legacy storage_usage becomes disk_usage');

    const status = await oneShot(m.tcpPort, frame('status', {}, 'py-status'));
    const stats = (status.data['result'] as { cluster_stats: Record<string, unknown> }).cluster_stats;
    assert.ok((stats['total_devices'] as number) >= 1);
    assert.ok(Array.isArray((status.data['result'] as Record<string, unknown>)['device_list']));
  });

  await t.test('list_devices filters by status and role and says which filters it applied', async (t) => {
    const c = await client(t, m);
    const reply = await c.request(frame('list_devices', { status: 'online', role: 'mobile' }));
    const result = reply.data['result'] as { devices: Array<Record<string, unknown>>; count: number; filters_applied: Record<string, unknown> };
    assert.deepEqual(result.filters_applied, { status: 'online', role: 'mobile' });
    assert.equal(result.count, result.devices.length);
    assert.ok(result.devices.length >= 1);
    assert.ok(result.devices.every((d) => d['role'] === 'mobile' && d['status'] === 'online'));
  });

  await t.test('device_info for an unknown id is RC_ERR_NOT_FOUND', async (t) => {
    const c = await client(t, m);
    const reply = await c.request(frame('device_info', { device_id: 'nope' }));
    assert.equal(reply.data['code'], 'RC_ERR_NOT_FOUND');
  });

  assert.equal(m.proc.exitCode, null, 'the master is still running after all of the above');
});

test('the master assigns quietly (reply: false), matches a refusal by message id, and a batch can ask for minimal answers', async (t) => {
  // The default line limit: a 4 KiB one leaves no room for a task payload.
  const m = await startMaster(t, { dataDir: tempDir(t), extraArgs: ['--insecure'] });
  const api = new Api(m.httpUrl, m.dataDir);
  const device = await client(t, m);
  const reg = frame('register', { protocol_version: '1.0', device_id: 'quiet-dev', role: 'pi', hardware: { cpu_count: 4, memory_total_gb: 1.8 }, task_types: ['echo'], max_tasks: 1 }, 'quiet-dev');
  assert.equal((await device.request(reg)).message_type, 'ack');

  const res = await api.request('POST', '/api/v1/tasks', [{ task_type: 'echo', payload: { message: 'hi' } }], api.token, { prefer: 'return=minimal' });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.headers['preference-applied'], 'return=minimal');
  const [created] = res.body as Array<Record<string, unknown>>;
  assert.deepEqual(Object.keys(created!).sort(), ['status', 'task_id'], 'only the id and the status');

  const assigns = () => device.frames.filter((f) => f.message_type === 'task_assign');
  await waitFor(() => assigns().length === 1, 5000, 'the first assignment');
  const first = assigns()[0]!;
  assert.equal(first.data['task_id'], created!['task_id']);
  assert.equal(first.data['reply'], false, 'assignments ask for no ack');
  // A refusal names the assignment by message id only; the master must still know which task it was.
  await device.send(frame('error', { original_message_id: first.message_id, code: 'RC_ERR_TASK_WORKER_CLOSING', message: 'closing', error: 'closing' }, 'quiet-dev'));
  await waitFor(() => assigns().length === 2, 5000, 'the task assigned again after the refusal');
  const second = assigns()[1]!;
  assert.equal(second.data['attempt'], 2);
  await device.send(frame('task_progress', { task_id: second.data['task_id'], attempt: 2, event: 'started' }, 'quiet-dev'));
  const result = frame('task_result', { task_id: second.data['task_id'], attempt: 2, status: 'succeeded', result: { output: 'hi', exit_code: 0, error: null, duration_s: 0, truncated: false } }, 'quiet-dev');
  assert.equal((await device.request(result)).message_type, 'ack');
  const done = await api.waitForStatus(String(created!['task_id']), 'succeeded');
  assert.equal(done.attempts, 2);
  const events = (await api.task(done.task_id)).events ?? [];
  assert.ok(events.some((e) => e.kind === 'requeued' && e.detail['reason'] === 'refused'), `a requeue for the refusal: ${JSON.stringify(events.map((e) => e.kind))}`);

  const full = await api.request('POST', '/api/v1/tasks', [{ task_type: 'echo', payload: { message: 'full' } }]);
  assert.equal(full.headers['preference-applied'], undefined);
  assert.ok('payload' in (full.body as Array<Record<string, unknown>>)[0]!, 'without the preference the whole task view');

  const before = (await api.list('limit=1000')).length;
  const refused = await api.request('POST', '/api/v1/tasks', [{ task_type: 'echo', payload: { message: 'ok' } }, { task_type: 'echo', payload: { msg: 1 } }], api.token, { prefer: 'return=minimal' });
  assert.equal(refused.status, 400);
  assert.match(String((refused.body as { message: string }).message), /task \[1\]: payload does not fit task type echo/);
  assert.equal(refused.headers['preference-applied'], undefined, 'an error is not shaped by the preference');
  assert.equal((await api.list('limit=1000')).length, before, 'a refused batch stores none of its tasks');
});
