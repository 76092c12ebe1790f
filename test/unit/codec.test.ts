import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProtocolError, RcError, type ErrorCode } from '../../src/common/errors.js';
import {
  createAck,
  createErrorFrame,
  createMessage,
  decodeLine,
  encodeMessage,
  type Decoded,
} from '../../src/protocol/codec.js';
import type { AckData, Envelope } from '../../src/protocol/types.js';

function repoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error('no package.json above the test file');
  }
}

const EXAMPLES_DIR = join(repoRoot(), 'protocol', 'examples');

function validHeartbeat(): Record<string, unknown> {
  return {
    message_type: 'heartbeat',
    sender_id: 'rpi4-garage',
    receiver_id: 'master',
    message_id: 'msg-0001',
    timestamp: '2026-11-24T19:00:00.123Z',
    data: { device_id: 'rpi4-garage', metrics: { cpu_usage: 12.5, memory_usage: 40 } },
  };
}

function expectError(decoded: Decoded, code: ErrorCode): { error: ProtocolError; messageId: string | null } {
  assert.equal(decoded.ok, false, `expected ${code}, got ok`);
  if (decoded.ok) throw new Error('unreachable');
  assert.equal(decoded.error.code, code, decoded.error.message);
  assert.ok(decoded.error instanceof ProtocolError);
  return decoded;
}

function expectOk(decoded: Decoded): Envelope {
  if (!decoded.ok) assert.fail(`expected ok, got ${decoded.error.code}: ${decoded.error.message}`);
  return decoded.message;
}

describe('decodeLine', () => {
  for (const garbage of ['not json', '', '{"message_type":', "{'a':1}", '{"a":1}}']) {
    test(`reports RC_ERR_PROTO_INVALID_JSON for ${JSON.stringify(garbage)}`, () => {
      const { error, messageId } = expectError(decodeLine(garbage), 'RC_ERR_PROTO_INVALID_JSON');
      assert.equal(messageId, null);
      assert.equal(error.status, 400);
    });
  }

  for (const notObject of ['[1,2]', '42', 'null', '"heartbeat"', 'true', '[]']) {
    test(`reports RC_ERR_PROTO_INVALID_ENVELOPE for the non-object ${notObject}`, () => {
      expectError(decodeLine(notObject), 'RC_ERR_PROTO_INVALID_ENVELOPE');
    });
  }

  test('reports RC_ERR_PROTO_INVALID_ENVELOPE for a frame without message_type and keeps its message_id', () => {
    const frame = validHeartbeat();
    delete frame['message_type'];
    const { messageId } = expectError(decodeLine(JSON.stringify(frame)), 'RC_ERR_PROTO_INVALID_ENVELOPE');
    assert.equal(messageId, 'msg-0001');
  });

  test('reports RC_ERR_PROTO_INVALID_ENVELOPE for a non-string message_type', () => {
    expectError(decodeLine(JSON.stringify({ ...validHeartbeat(), message_type: 7 })), 'RC_ERR_PROTO_INVALID_ENVELOPE');
  });

  test('reports RC_ERR_PROTO_INVALID_ENVELOPE for a numeric timestamp, naming the field', () => {
    const { error, messageId } = expectError(
      decodeLine(JSON.stringify({ ...validHeartbeat(), timestamp: 5 })),
      'RC_ERR_PROTO_INVALID_ENVELOPE',
    );
    assert.equal(messageId, 'msg-0001');
    assert.match(error.message, /\/timestamp/);
    const paths = (error.details as Array<{ path: string }>).map((v) => v.path);
    assert.ok(paths.includes('/timestamp'), `details paths: ${paths.join(', ')}`);
  });

  test('reports RC_ERR_PROTO_INVALID_ENVELOPE for a missing sender_id', () => {
    const frame = validHeartbeat();
    delete frame['sender_id'];
    expectError(decodeLine(JSON.stringify(frame)), 'RC_ERR_PROTO_INVALID_ENVELOPE');
  });

  test('reports RC_ERR_PROTO_UNKNOWN_TYPE for an unknown message_type and keeps the message_id', () => {
    const { error, messageId } = expectError(
      decodeLine(JSON.stringify({ ...validHeartbeat(), message_type: 'teleport' })),
      'RC_ERR_PROTO_UNKNOWN_TYPE',
    );
    assert.equal(messageId, 'msg-0001');
    assert.match(error.message, /teleport/);
  });

  test('reports RC_ERR_PROTO_UNKNOWN_TYPE with a null messageId when the frame has none', () => {
    const frame = { ...validHeartbeat(), message_type: 'teleport' } as Record<string, unknown>;
    delete frame['message_id'];
    const { messageId } = expectError(decodeLine(JSON.stringify(frame)), 'RC_ERR_PROTO_UNKNOWN_TYPE');
    assert.equal(messageId, null);
  });

  test('reports RC_ERR_PROTO_SCHEMA for a heartbeat with cpu_usage "high", listing the path in details', () => {
    const frame = validHeartbeat();
    frame['data'] = { device_id: 'rpi4-garage', metrics: { cpu_usage: 'high' } };
    const { error, messageId } = expectError(decodeLine(JSON.stringify(frame)), 'RC_ERR_PROTO_SCHEMA');
    assert.equal(messageId, 'msg-0001');
    assert.ok(Array.isArray(error.details));
    const details = error.details as Array<{ path: string; message: string }>;
    assert.ok(
      details.some((v) => v.path === '/data/metrics/cpu_usage'),
      `details: ${JSON.stringify(details)}`,
    );
    assert.ok(details.every((v) => v.path.startsWith('/data')), 'only data violations');
    assert.match(error.message, /\/data\/metrics\/cpu_usage/);
  });

  test('accepts frames built with createMessage for every request type', () => {
    const addr = { sender: 'rpi4-garage', receiver: 'master' };
    const frames = [
      createMessage(
        'register',
        {
          protocol_version: '1.0',
          device_id: 'rpi4-garage',
          hostname: 'garage',
          hardware: { cpu_count: 4, memory_total_gb: 3.7, storage_total_gb: 29.1 },
          capabilities: ['shell'],
          max_tasks: 2,
        },
        addr,
      ),
      createMessage('heartbeat', { device_id: 'rpi4-garage', metrics: { cpu_usage: 3, disk_usage: 50 } }, addr),
      createMessage('status', {}, addr),
      createMessage('list_devices', { status: 'online' }, addr),
      createMessage('device_info', { device_id: 'rpi4-garage' }, addr),
    ];
    for (const frame of frames) {
      const message = expectOk(decodeLine(JSON.stringify(frame)));
      assert.deepEqual(message, frame);
    }
  });
});

describe('createMessage and encodeMessage', () => {
  test('createMessage fills a fresh id, a UTC timestamp and a null receiver by default', () => {
    const a = createMessage('status', {}, { sender: 'cli' });
    const b = createMessage('status', {}, { sender: 'cli' });
    assert.notEqual(a.message_id, b.message_id);
    assert.equal(a.receiver_id, null);
    assert.equal(a.sender_id, 'cli');
    assert.match(a.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  test('encodeMessage ends with exactly one newline even when the data holds newlines', () => {
    const msg = createMessage('task_progress', { task_id: 't1', output: 'line one\nline two\r\n' }, { sender: 'w' });
    const wire = encodeMessage(msg);
    assert.ok(wire.endsWith('\n'));
    assert.equal(wire.indexOf('\n'), wire.length - 1, 'the only newline is the terminator');
    assert.equal(wire.includes('\r'), false);
  });

  test('encodeMessage round-trips through decodeLine', () => {
    const msg = createMessage(
      'heartbeat',
      { device_id: 'phone-1', metrics: { cpu_usage: 99.5, load_average: [1, 2, 3], battery: { percent: 80, charging: true } } },
      { sender: 'phone-1', receiver: 'master' },
    );
    const decoded = expectOk(decodeLine(encodeMessage(msg).slice(0, -1)));
    assert.deepEqual(decoded, msg);
  });
});

describe('createAck', () => {
  test('replies to the request sender with original_message_id and result.success true', () => {
    const request = createMessage('heartbeat', { device_id: 'rpi4' }, { sender: 'rpi4', receiver: 'master' });
    const ack = createAck(request, { next_heartbeat_s: 30 }, 'master');
    assert.equal(ack.message_type, 'ack');
    const data = ack.data as unknown as AckData;
    assert.equal(data.original_message_id, request.message_id);
    assert.equal(data.result.success, true);
    assert.equal(data.result['next_heartbeat_s'], 30);
    assert.equal(ack.sender_id, 'master');
    assert.equal(ack.receiver_id, 'rpi4');
    assert.notEqual(ack.message_id, request.message_id);
    expectOk(decodeLine(encodeMessage(ack).trimEnd()));
  });

  test('an ack with an empty result still says success', () => {
    const ack = createAck({ message_id: 'req-9', sender_id: 'laptop' }, {}, 'master');
    assert.deepEqual(ack.data, { original_message_id: 'req-9', result: { success: true } });
  });
});

describe('createErrorFrame', () => {
  test('carries code, message, the legacy error copy, original_message_id and details', () => {
    const details = [{ path: '/data/metrics/cpu_usage', message: 'must be number or null' }];
    const err = new ProtocolError('RC_ERR_PROTO_SCHEMA', 'heartbeat frame is invalid', { details });
    const frame = createErrorFrame(err, { messageId: 'req-1', receiver: 'rpi4' }, 'master');
    assert.equal(frame.message_type, 'error');
    assert.equal(frame.data.code, 'RC_ERR_PROTO_SCHEMA');
    assert.equal(frame.data.message, 'heartbeat frame is invalid');
    assert.equal(frame.data.error, 'heartbeat frame is invalid');
    assert.equal(frame.data.original_message_id, 'req-1');
    assert.deepEqual(frame.data.details, details);
    assert.equal(frame.sender_id, 'master');
    assert.equal(frame.receiver_id, 'rpi4');
    expectOk(decodeLine(encodeMessage(frame).trimEnd()));
  });

  test('an error about an unidentifiable frame has a null original_message_id and no details key', () => {
    const err = new RcError('RC_ERR_PROTO_INVALID_JSON', 'frame is not valid JSON');
    const frame = createErrorFrame(err, { messageId: null }, 'master');
    assert.equal(frame.data.original_message_id, null);
    assert.equal(frame.receiver_id, null);
    assert.equal('details' in frame.data, false);
    expectOk(decodeLine(encodeMessage(frame).trimEnd()));
  });
});

describe('protocol/examples', () => {
  const files = readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.json'));

  test('the examples directory is not empty', () => {
    assert.ok(files.length >= 10, `only ${files.length} examples in ${EXAMPLES_DIR}`);
  });

  for (const file of files) {
    test(`example ${file} decodes ok`, () => {
      const text = readFileSync(join(EXAMPLES_DIR, file), 'utf8');
      const message = expectOk(decodeLine(text));
      assert.equal(file.slice(0, -'.json'.length).split('-')[0], message.message_type);
    });
  }
});
