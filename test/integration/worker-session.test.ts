import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import ndjson from 'ndjson';
import { startWorker, tempDir } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { frame, type Frame } from '../helpers/wire-client.js';

/**
 * A master that misbehaves on purpose: it acks the register (heartbeat every
 * 0.2 s) and then never answers a heartbeat. It records what arrives per
 * connection; `alsoSend` adds frames to the same write as the register ack.
 */
async function silentMaster(t: import('node:test').TestContext, alsoSend: (register: Frame) => Frame[] = () => []): Promise<{ port: number; connections: Frame[][] }> {
  const connections: Frame[][] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    const seen: Frame[] = [];
    connections.push(seen);
    socket.on('error', () => undefined);
    socket.pipe(ndjson.parse()).on('data', (f: Frame) => {
      seen.push(f);
      if (f.message_type !== 'register') return;
      const ack = frame('ack', { original_message_id: f.message_id, result: { success: true, device_id: f.sender_id, heartbeat_interval: 0.2 } }, 'master');
      socket.write([ack, ...alsoSend(f)].map((x) => `${JSON.stringify(x)}\n`).join(''));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as { port: number }).port, connections };
}

test('the worker sends quiet heartbeats, asks for an ack every 3rd, and reconnects after 2 unanswered asks', async (t) => {
  const fake = await silentMaster(t);
  const worker = startWorker(t, { tcpPort: fake.port, joinToken: 'fake-token' }, { dataDir: tempDir(t), deviceId: 'quiet-worker' });
  await waitFor(() => fake.connections.length >= 2, 20_000, () => `a reconnect after unanswered heartbeats:\n${worker.output()}`);
  const first = fake.connections[0]!.filter((f) => f.message_type === 'heartbeat');
  const asks = first.map((f) => f.data['reply'] !== false);
  assert.deepEqual(asks.slice(0, 6), [false, false, true, false, false, true], 'every 3rd periodic heartbeat asks');
  assert.ok(first.every((f) => f.data['reply'] === false || !('reply' in f.data)), 'quiet heartbeats say reply: false, asking ones leave it out');
  assert.equal(asks.filter(Boolean).length, 2, 'it gave up after the 2nd unanswered ask');
  assert.match(worker.output(), /master stopped answering; reconnecting/);
  await waitFor(() => fake.connections[1]![0]?.message_type === 'register', 10_000, 'a register on the new connection');
});

test('a task_assign in the same read as the register ack still reports started, progress and result', async (t) => {
  const assign = (register: Frame) => [frame('task_assign', { task_id: 'early-task', attempt: 1, task_type: 'echo', payload: { message: 'early' }, timeout_s: 30 }, 'master')].map((f) => ({ ...f, receiver_id: register.sender_id }));
  const fake = await silentMaster(t, assign);
  startWorker(t, { tcpPort: fake.port, joinToken: 'fake-token' }, { dataDir: tempDir(t), deviceId: 'early-worker' });
  const seen = () => fake.connections[0] ?? [];
  await waitFor(() => seen().some((f) => f.message_type === 'task_result'), 20_000, () => `a task_result; got ${seen().map((f) => f.message_type).join(', ')}`);
  const started = seen().find((f) => f.message_type === 'task_progress' && f.data['event'] === 'started');
  assert.ok(started, 'the started progress was sent, not dropped');
  assert.equal(started.data['task_id'], 'early-task');
  const types = seen().map((f) => f.message_type);
  assert.ok(types.indexOf('task_progress') < types.indexOf('task_result'), 'started comes before the result');
});

test('quiet assignments (reply: false) are not acknowledged, a refusal still is, and both kinds run', async (t) => {
  const assigns = (register: Frame) => [
    frame('task_assign', { task_id: 'quiet-task', attempt: 1, task_type: 'echo', payload: { message: 'q' }, timeout_s: 30, reply: false }, 'master'),
    frame('task_assign', { task_id: 'loud-task', attempt: 1, task_type: 'echo', payload: { message: 'l' }, timeout_s: 30 }, 'master'),
    frame('task_assign', { task_id: 'quiet-refused', attempt: 1, task_type: 'no-such-type', payload: {}, timeout_s: 30, reply: false }, 'master'),
  ].map((f) => ({ ...f, receiver_id: register.sender_id }));
  let sent: Frame[] = [];
  const fake = await silentMaster(t, (register) => (sent = assigns(register)));
  startWorker(t, { tcpPort: fake.port, joinToken: 'fake-token' }, { dataDir: tempDir(t), deviceId: 'quiet-assign-worker' });
  const seen = () => fake.connections[0] ?? [];
  const results = () => seen().filter((f) => f.message_type === 'task_result').map((f) => f.data['task_id']);
  await waitFor(() => results().length === 2, 20_000, () => `two results; got ${seen().map((f) => f.message_type).join(', ')}`);
  assert.deepEqual([...results()].sort(), ['loud-task', 'quiet-task']);
  const replyTo = (id: string) => seen().filter((f) => (f.message_type === 'ack' || f.message_type === 'error') && f.data['original_message_id'] === id);
  const [quiet, loud, refused] = sent;
  assert.deepEqual(replyTo(quiet!.message_id), [], 'a quiet assignment that is accepted gets no ack');
  assert.deepEqual(replyTo(loud!.message_id).map((f) => f.message_type), ['ack'], 'one without the field is acknowledged as before');
  const refusal = replyTo(refused!.message_id);
  assert.deepEqual(refusal.map((f) => f.message_type), ['error'], 'a refused quiet assignment is answered with an error');
  assert.equal(refusal[0]!.data['code'], 'RC_ERR_TASK_UNKNOWN_TYPE');
  assert.ok(seen().some((f) => f.message_type === 'task_progress' && f.data['task_id'] === 'quiet-task' && f.data['event'] === 'started'), 'acceptance shows as started');
});
