import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { startMaster, startWorker, tempDir, type RunningMaster } from '../helpers/processes.js';
import { signRegister } from '../../src/protocol/auth.js';
import { waitFor } from '../helpers/wait.js';
import { frame, WireClient } from '../helpers/wire-client.js';

const HEARTBEAT_S = 1;

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

interface DeviceRow {
  device_id: string;
  status: string;
  last_seen: string;
}

/** Both legitimate workers are online and heard from within three heartbeat intervals. */
async function assertWorkersHealthy(m: RunningMaster, when: string): Promise<void> {
  const rows = (await (await fetch(`${m.httpUrl}/text/devices?format=json`)).json()) as DeviceRow[];
  for (const id of ['good-1', 'good-2']) {
    const row = rows.find((r) => r.device_id === id);
    assert.equal(row?.status, 'online', `${id} online ${when}`);
    const ageMs = Date.now() - Date.parse(row.last_seen);
    assert.ok(ageMs < 3 * HEARTBEAT_S * 1000, `${id} heard from ${ageMs} ms ago ${when}`);
  }
}

/** Open wire connections as the master counts them (/metrics). */
async function openWireConnections(m: RunningMaster): Promise<number> {
  const text = await (await fetch(`${m.httpUrl}/metrics`)).text();
  return Number(/^rc_wire_connections (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
}

function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

test('hostile clients: legitimate workers keep heartbeating and the master stays up with bounded memory', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, {
    dataDir: join(root, 'master'),
    heartbeatIntervalS: HEARTBEAT_S,
    offlineAfterS: 10,
    extraArgs: ['--lost-after', '20'],
  });
  startWorker(t, m, { dataDir: join(root, 'g1'), deviceId: 'good-1' });
  startWorker(t, m, { dataDir: join(root, 'g2'), deviceId: 'good-2' });
  await waitFor(async () => {
    try {
      await assertWorkersHealthy(m, 'at start');
      return true;
    } catch {
      return false;
    }
  }, 20_000, 'workers online');
  const rssBefore = rssMb(m.proc.pid!);

  await t.test('random bytes get error frames, never a crash', async (t) => {
    const c = await WireClient.connect(m.tcpPort);
    t.after(() => c.close());
    await c.writeRaw(Buffer.concat([randomBytes(200_000), Buffer.from('\n')]));
    await waitFor(() => c.frames.length > 0 || c.closed, 5000, 'an answer or a close');
    assert.ok(c.frames.every((f) => f.message_type === 'error' && String(f.data['code']).startsWith('RC_ERR_')));
  });

  await t.test('JSON nested 100,000 levels deep is refused with a code', async (t) => {
    const c = await WireClient.connect(m.tcpPort);
    t.after(() => c.close());
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    await c.writeRaw(`${deep}\n`);
    const deepData = `{"message_type":"register","sender_id":"deep-dev","receiver_id":null,"message_id":"d1","timestamp":"2026-01-01T00:00:00Z","data":{"device_id":"deep-dev","x":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}}`;
    await c.writeRaw(`${deepData}\n`);
    const frames = await c.waitForFrames(2, 10_000);
    assert.ok(frames.every((f) => f.message_type === 'error'), JSON.stringify(frames.map((f) => f.data['code'])));
    assert.equal(frames[0]?.data['code'], 'RC_ERR_PROTO_INVALID_ENVELOPE');
    const devices = await (await fetch(`${m.httpUrl}/text/devices?format=json`)).json() as DeviceRow[];
    assert.ok(!devices.some((d) => d.device_id === 'deep-dev'), 'nothing stored for it');
  });

  await t.test('__proto__ and constructor keys pollute nothing', async (t) => {
    const c = await WireClient.connect(m.tcpPort);
    t.after(() => c.close());
    const auth = JSON.stringify(signRegister('join-hmac-sha256', readFileSync(join(m.dataDir, 'join-token'), 'utf8').trim(), 'proto-dev'));
    const line = `{"message_type":"register","sender_id":"proto-dev","receiver_id":null,"message_id":"p1","timestamp":"2026-01-01T00:00:00Z","data":{"device_id":"proto-dev","protocol_version":"1.0","auth":${auth},"__proto__":{"role":"admin","polluted":true},"constructor":{"prototype":{"polluted":true}},"hardware":{"__proto__":{"cpu_count":64}}}}`;
    await c.writeRaw(`${line}\n`);
    const [reply] = await c.waitForFrames(1);
    assert.equal(reply?.message_type, 'ack');
    const devices = await (await fetch(`${m.httpUrl}/text/devices?format=json`)).json() as Array<DeviceRow & { role: string; cpu_count: number | null }>;
    const dev = devices.find((d) => d.device_id === 'proto-dev');
    assert.equal(dev?.role, 'worker', 'a __proto__ key did not become the role');
    assert.equal(dev?.cpu_count, null, 'nor the hardware');
    const status = await c.request(frame('status', {}));
    assert.equal(status.message_type, 'ack', 'the master still answers normally');
  });

  await t.test('invalid UTF-8 gets an error frame and the connection lives on', async (t) => {
    const c = await WireClient.connect(m.tcpPort);
    t.after(() => c.close());
    await c.writeRaw(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a]));
    const [err] = await c.waitForFrames(1);
    assert.equal(err?.data['code'], 'RC_ERR_PROTO_INVALID_JSON');
    assert.equal((await c.request(frame('status', {}))).message_type, 'ack');
  });

  await t.test('a 50 MB line with no newline is cut off at the line limit', async () => {
    const s = await rawSocket(m.tcpPort);
    let received = '';
    s.on('data', (d: Buffer) => (received += d.toString()));
    s.on('error', () => undefined);
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 50 && !s.destroyed; i++) {
      if (!s.write(chunk)) await new Promise((r) => s.once('drain', r).once('close', r));
    }
    await waitFor(() => s.destroyed || s.readableEnded || received.includes('RC_ERR_PROTO_LINE_TOO_LONG'), 10_000, 'the master refused the line');
    assert.match(received, /RC_ERR_PROTO_LINE_TOO_LONG/);
    s.destroy();
  });

  await t.test('1,000 idle connections are capped per IP and the rest refused, without locking out workers', async () => {
    const sockets: Socket[] = [];
    let refused = 0;
    for (let i = 0; i < 1000; i++) {
      const s = await rawSocket(m.tcpPort).catch(() => null);
      if (!s) continue;
      s.on('error', () => undefined);
      s.on('data', (d: Buffer) => {
        if (d.toString().includes('RC_ERR_LIMIT_CONNECTIONS')) refused++;
      });
      sockets.push(s);
    }
    await waitFor(() => refused >= 900, 15_000, () => `most of 1,000 idle connections refused (refused ${refused})`);
    await assertWorkersHealthy(m, 'with 1,000 idle connections open');
    for (const s of sockets) s.destroy();
    // Until the master has seen them close, they still count against the per-IP cap: the next
    // subtest's connection was once refused for it (RC_ERR_LIMIT_CONNECTIONS) instead of flooding.
    let open = Number.NaN;
    await waitFor(async () => (open = await openWireConnections(m)) === 2, 10_000, () => `only the two workers stay connected (${open} open)`);
  });

  await t.test('a flood of 100,000 frames is cut off by the rate limit', async (t) => {
    const c = await WireClient.connect(m.tcpPort);
    t.after(() => c.close());
    const line = `${JSON.stringify(frame('status', {}))}\n`;
    const batch = line.repeat(1000);
    for (let i = 0; i < 100 && !c.closed; i++) await c.writeRaw(batch).catch(() => undefined);
    await c.waitClosed(15_000);
    assert.ok(c.frames.some((f) => f.data['code'] === 'RC_ERR_LIMIT_RATE'), `told why (${c.frames.length} frames, last: ${JSON.stringify(c.frames.at(-1)?.data ?? null).slice(0, 200)})`);
    assert.ok(c.frames.length < 5000, `answered only up to the limit (${c.frames.length} frames)`);
  });

  await t.test('afterwards the workers are healthy and memory stayed bounded', async () => {
    await assertWorkersHealthy(m, 'after the attacks');
    const growth = rssMb(m.proc.pid!) - rssBefore;
    assert.ok(growth < 150, `master RSS grew ${growth.toFixed(1)} MB`);
    assert.equal(m.proc.exitCode, null, 'the master is still running');
  });
});
