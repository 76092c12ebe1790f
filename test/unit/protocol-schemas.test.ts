import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../../src/common/errors.js';
import {
  PROTOCOL_DIR,
  loadMessageSchemas,
  validateEnvelope,
  validateMessage,
  validateReplyResult,
  type SchemaViolation,
} from '../../src/protocol/schemas.js';
import { MESSAGE_TYPES, isMessageType, type MessageType } from '../../src/protocol/types.js';

const SCHEMA_DIR = join(PROTOCOL_DIR, 'schema');
const EXAMPLE_DIR = join(PROTOCOL_DIR, 'examples');
const PROTOCOL_MD = readFileSync(join(PROTOCOL_DIR, 'PROTOCOL.md'), 'utf8');

interface Example {
  file: string;
  type: string;
  variant: string | undefined;
  frame: Record<string, unknown>;
}

/** `<message_type>.json` or `<message_type>-<variant>.json`; types never contain `-`. */
function loadExamples(): Example[] {
  return readdirSync(EXAMPLE_DIR)
    .filter((file) => file.endsWith('.json'))
    .map((file) => {
      const [type = '', variant] = file.slice(0, -'.json'.length).split('-', 2);
      const frame = JSON.parse(readFileSync(join(EXAMPLE_DIR, file), 'utf8')) as Record<string, unknown>;
      return { file, type, variant, frame };
    });
}

function exampleFrame(file: string): Record<string, unknown> {
  const found = loadExamples().find((example) => example.file === file);
  assert.ok(found, `example ${file} exists`);
  return structuredClone(found.frame);
}

function frameOf(type: MessageType, data: unknown, extra: Record<string, unknown> = {}): unknown {
  return {
    message_type: type,
    sender_id: 'rpi4-garage',
    receiver_id: 'master',
    message_id: '6f1c2a4e-8b3d-4f7a-9c21-0d5e8a7b3c10',
    timestamp: '2026-11-24T19:00:00.123Z',
    data,
    ...extra,
  };
}

function paths(violations: SchemaViolation[]): string[] {
  return violations.map((violation) => violation.path);
}

test('every message type has a schema file and at least one example', () => {
  const schemaFiles = new Set(readdirSync(SCHEMA_DIR));
  const exampleTypes = new Set(loadExamples().map((example) => example.type));
  for (const type of MESSAGE_TYPES) {
    assert.ok(schemaFiles.has(`${type}.schema.json`), `protocol/schema/${type}.schema.json is missing`);
    assert.ok(exampleTypes.has(type), `protocol/examples has no example for ${type}`);
  }
});

test('schema and example files name only known message types', () => {
  const shared = new Set(['common', 'envelope']);
  // Subfolders hold non-wire schemas (http/ bodies, payload/ task inputs); top-level files are wire messages.
  for (const entry of readdirSync(SCHEMA_DIR, { withFileTypes: true })) {
    if (entry.isDirectory()) continue;
    const file = entry.name;
    const name = file.replace(/\.schema\.json$/, '');
    assert.ok(shared.has(name) || isMessageType(name), `unexpected schema file ${file}`);
  }
  for (const example of loadExamples()) {
    assert.ok(isMessageType(example.type), `example ${example.file} is not named after a message type`);
    assert.equal(example.frame.message_type, example.type, `${example.file} message_type`);
  }
});

test('loadMessageSchemas returns the draft-07 schema of each type', () => {
  const schemas = loadMessageSchemas();
  assert.deepEqual(Object.keys(schemas).sort(), [...MESSAGE_TYPES].sort());
  for (const type of MESSAGE_TYPES) {
    const schema = schemas[type] as { $schema?: string; $id?: string };
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
    assert.ok(schema.$id?.endsWith(`/${type}.schema.json`), `${type} $id is ${String(schema.$id)}`);
  }
});

test('every example validates against its envelope and its type schema', () => {
  for (const example of loadExamples()) {
    assert.deepEqual(validateEnvelope(example.frame), [], `${example.file} envelope`);
    assert.deepEqual(validateMessage(example.type as MessageType, example.frame), [], `${example.file}`);
  }
});

test('ack examples named after a request type carry that reply result shape', () => {
  const acks = loadExamples().filter((example) => example.type === 'ack' && example.variant !== undefined);
  assert.ok(acks.length >= 5, 'expected ack examples for register, heartbeat, status, list_devices, device_info');
  for (const ack of acks) {
    const requestType = ack.variant as MessageType;
    assert.ok(isMessageType(requestType), `${ack.file}: ${requestType} is not a message type`);
    const result = (ack.frame.data as { result: unknown }).result;
    assert.deepEqual(validateReplyResult(requestType, result), [], ack.file);
  }
});

test('replies to example requests point at the request message_id', () => {
  const pairs: Array<[string, string]> = [
    ['register.json', 'ack-register.json'],
    ['heartbeat.json', 'ack-heartbeat.json'],
    ['heartbeat-unknown_device.json', 'error-device_unknown.json'],
    ['status.json', 'ack-status.json'],
    ['list_devices.json', 'ack-list_devices.json'],
    ['device_info.json', 'ack-device_info.json'],
    ['task_assign.json', 'ack-task_assign.json'],
  ];
  for (const [request, reply] of pairs) {
    const data = exampleFrame(reply).data as { original_message_id: unknown };
    assert.equal(data.original_message_id, exampleFrame(request).message_id, `${reply} answers ${request}`);
  }
});

test('rejects a heartbeat whose cpu_usage is a string', () => {
  const frame = exampleFrame('heartbeat.json');
  (frame.data as { metrics: Record<string, unknown> }).metrics.cpu_usage = 'high';
  const violations = validateMessage('heartbeat', frame);
  assert.deepEqual(violations, [{ path: '/data/metrics/cpu_usage', message: 'must be number or null' }]);
});

test('rejects out-of-range metrics and negative sizes', () => {
  const heartbeat = frameOf('heartbeat', { metrics: { memory_usage: 101, active_tasks: -1, uptime_s: -5 } });
  assert.deepEqual(paths(validateMessage('heartbeat', heartbeat)).sort(), [
    '/data/metrics/active_tasks',
    '/data/metrics/memory_usage',
    '/data/metrics/uptime_s',
  ]);
  const register = frameOf('register', { hardware: { memory_total_gb: -1 }, storage_total_gb: -2 });
  assert.deepEqual(paths(validateMessage('register', register)).sort(), [
    '/data/hardware/memory_total_gb',
    '/data/storage_total_gb',
  ]);
});

test('rejects a register whose hardware.cpu_count is a word', () => {
  const frame = exampleFrame('register.json');
  (frame.data as { hardware: Record<string, unknown> }).hardware.cpu_count = 'four';
  assert.deepEqual(paths(validateMessage('register', frame)), ['/data/hardware/cpu_count']);
});

test('rejects mistyped register fields', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ tags: 'arm' }, '/data/tags'],
    [{ device_id: 'garage pi!' }, '/data/device_id'],
    [{ max_tasks: 0 }, '/data/max_tasks'],
    [{ running_tasks: [{ task_id: 't1', attempt: 0 }] }, '/data/running_tasks/0/attempt'],
    [{ running_tasks: [{ attempt: 1 }] }, '/data/running_tasks/0'],
    [{ capabilities: { computing: 'fast' } }, '/data/capabilities/computing'],
    [{ protocol_version: 'one' }, '/data/protocol_version'],
    [{ os: { kernel: 6 } }, '/data/os/kernel'],
    [{ battery: { charging: 'yes' } }, '/data/battery/charging'],
  ];
  for (const [data, path] of cases) {
    const found = paths(validateMessage('register', frameOf('register', data)));
    assert.ok(found.includes(path), `${JSON.stringify(data)}: expected a violation at ${path}, got ${JSON.stringify(found)}`);
  }
});

test('accepts any protocol_version shape so the handler can answer RC_ERR_PROTO_VERSION', () => {
  for (const version of ['1.0', '2.0', '1', 1, 2]) {
    assert.deepEqual(validateMessage('register', frameOf('register', { protocol_version: version })), [], String(version));
  }
});

test('rejects an error frame without code, and codes outside RC_ERR_', () => {
  const frame = exampleFrame('error-device_unknown.json');
  delete (frame.data as Record<string, unknown>).code;
  const violations = validateMessage('error', frame);
  assert.equal(violations.length, 1);
  assert.equal(violations[0]?.path, '/data');
  assert.match(violations[0]?.message ?? '', /code/);
  const lowercase = frameOf('error', { code: 'rc_err_internal', message: 'x' });
  assert.deepEqual(paths(validateMessage('error', lowercase)), ['/data/code']);
});

test('rejects an ack without a boolean result.success', () => {
  assert.deepEqual(paths(validateMessage('ack', frameOf('ack', { original_message_id: 'm1' }))), ['/data']);
  const notBoolean = frameOf('ack', { original_message_id: 'm1', result: { success: 'true' } });
  assert.deepEqual(paths(validateMessage('ack', notBoolean)), ['/data/result/success']);
});

test('rejects task messages with invalid fields', () => {
  const assign = frameOf('task_assign', { task_id: 't1', attempt: 1, task_type: 'shell', payload: {}, timeout_s: 0 });
  assert.deepEqual(paths(validateMessage('task_assign', assign)), ['/data/timeout_s']);
  const result = exampleFrame('task_result.json');
  (result.data as Record<string, unknown>).status = 'done';
  assert.deepEqual(validateMessage('task_result', result), [
    { path: '/data/status', message: 'must be equal to one of the allowed values: succeeded, failed, timed_out, cancelled, device_killed' },
  ]);
  const progress = frameOf('task_progress', { task_id: 't1', attempt: 1, event: 'output', stream: 'stdin' });
  assert.deepEqual(paths(validateMessage('task_progress', progress)), ['/data/stream']);
  assert.deepEqual(paths(validateMessage('task_cancel', frameOf('task_cancel', {}))), ['/data']);
});

test('rejects queries with invalid filters or a missing device_id', () => {
  const listing = frameOf('list_devices', { status: 'dead' });
  assert.deepEqual(paths(validateMessage('list_devices', listing)), ['/data/status']);
  assert.deepEqual(paths(validateMessage('device_info', frameOf('device_info', {}))), ['/data']);
  assert.deepEqual(paths(validateMessage('status', frameOf('status', { role: 7 }))), ['/data/role']);
});

test('rejects a frame whose message_type differs from the schema it is checked against', () => {
  const violations = validateMessage('heartbeat', exampleFrame('register.json'));
  assert.deepEqual(violations, [{ path: '/message_type', message: 'must be equal to constant: "heartbeat"' }]);
});

test('accepts unknown fields inside data and at the top level', () => {
  const heartbeat = exampleFrame('heartbeat.json');
  const data = heartbeat.data as { metrics: Record<string, unknown> } & Record<string, unknown>;
  data.firmware = { version: 3 };
  data.metrics.gpu_usage = 'n/a';
  heartbeat.trace_id = 'abc';
  assert.deepEqual(validateMessage('heartbeat', heartbeat), []);
  assert.deepEqual(validateEnvelope(heartbeat), []);
  const status = frameOf('status', { verbose: true, role: 'worker' });
  assert.deepEqual(validateMessage('status', status), []);
});

test('accepts a register from the original Python worker', () => {
  const frame = {
    message_type: 'register',
    sender_id: 'android-001',
    receiver_id: null,
    message_id: 'c1d2e3f4-0000-4000-8000-000000000001',
    timestamp: '2024-01-01T12:00:00.123456',
    data: {
      device_id: 'android-001',
      role: 'mobile',
      hostname: 'localhost',
      cpu_count: 8,
      memory_total_gb: 5.5,
      storage_total_gb: null,
      capabilities: { computing: ['light_computation'], network: ['wifi', 'cellular'], sensors: [] },
      architecture: 'aarch64',
    },
  };
  assert.deepEqual(validateEnvelope(frame), []);
  assert.deepEqual(validateMessage('register', frame), []);
  frame.data.cpu_count = -1;
  assert.deepEqual(paths(validateMessage('register', frame)), ['/data/cpu_count']);
});

test('accepts UTC, offset and naive timestamps and rejects others', () => {
  const accepted = [
    '2026-11-24T19:00:00.123Z',
    '2026-11-24T19:00:00Z',
    '2024-01-01T12:00:00.123456',
    '2024-01-01T12:00:00',
    '2024-01-01T12:00:00.123456+00:00',
    '2026-11-24T20:00:00.123+01:00',
    '2026-11-24T14:00:00-0500',
  ];
  const rejected = ['2026-11-24', '2026-11-24 19:00:00', '2026-13-01T00:00:00Z', '2026-11-24T25:00:00Z', 'yesterday', ''];
  for (const timestamp of accepted) {
    assert.deepEqual(validateEnvelope(frameOf('status', {}, { timestamp })), [], timestamp);
  }
  for (const timestamp of rejected) {
    assert.deepEqual(paths(validateEnvelope(frameOf('status', {}, { timestamp }))), ['/timestamp'], timestamp);
  }
});

test('rejects envelopes that are not objects or miss or mistype fields', () => {
  for (const frame of [null, 42, 'register', [], true]) {
    assert.deepEqual(validateEnvelope(frame), [{ path: '', message: 'must be object' }], JSON.stringify(frame));
  }
  const missing = validateEnvelope({ message_type: 'status', data: {} });
  assert.equal(missing.length, 4);
  const mistyped = frameOf('status', [], { sender_id: '', receiver_id: 5, message_id: 'x'.repeat(129) });
  assert.deepEqual(paths(validateEnvelope(mistyped)).sort(), ['/data', '/message_id', '/receiver_id', '/sender_id']);
});

test('caps violations at 10', () => {
  const tags = Array.from({ length: 25 }, (_, i) => i);
  const violations = validateMessage('register', frameOf('register', { tags }));
  assert.equal(violations.length, 10);
  assert.equal(violations[0]?.path, '/data/tags/0');
});

test('reply result shapes reject missing or mistyped fields', () => {
  const register = structuredClone((exampleFrame('ack-register.json').data as { result: Record<string, unknown> }).result);
  delete register.heartbeat_interval;
  assert.deepEqual(paths(validateReplyResult('register', register)), ['']);
  const listing = (exampleFrame('ack-list_devices.json').data as { result: { devices: Array<Record<string, unknown>> } })
    .result;
  const device = listing.devices[0];
  assert.ok(device);
  device.status = 'asleep';
  assert.deepEqual(paths(validateReplyResult('list_devices', listing)), ['/devices/0/status']);
  assert.deepEqual(validateReplyResult('task_assign', { success: false, reason: 'busy' }), []);
  assert.deepEqual(paths(validateReplyResult('task_assign', {})), ['']);
});

test('the invalid heartbeat in PROTOCOL.md §12 gets exactly the details of error-schema.json', () => {
  const error = exampleFrame('error-schema.json').data as { original_message_id: string; details: unknown };
  const rawLines = [...PROTOCOL_MD.matchAll(/```text\n([\s\S]*?)```/g)].flatMap((match) => (match[1] ?? '').split('\n'));
  const line = rawLines.find((text) => text.includes(error.original_message_id));
  assert.ok(line, 'PROTOCOL.md shows the request that error-schema.json answers');
  assert.deepEqual(validateMessage('heartbeat', JSON.parse(line)), error.details);
});

test('PROTOCOL.md lists every error code in a table row, and only known codes', () => {
  for (const code of Object.keys(ERROR_CODES)) {
    const row = new RegExp(`^\\|\\s*\`${code}\`\\s*\\|`, 'm');
    assert.match(PROTOCOL_MD, row, `PROTOCOL.md has no table row for ${code}`);
  }
  const mentioned = new Set(PROTOCOL_MD.match(/RC_ERR_[A-Z0-9_]+/g) ?? []);
  assert.ok(mentioned.size >= Object.keys(ERROR_CODES).length);
  for (const code of mentioned) {
    assert.ok(Object.hasOwn(ERROR_CODES, code), `PROTOCOL.md mentions ${code}, which is not in ERROR_CODES`);
  }
});

test('every message shown in PROTOCOL.md is an example file and validates', () => {
  const examples = loadExamples();
  const blocks = [...PROTOCOL_MD.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
  let messages = 0;
  for (const block of blocks) {
    const value: unknown = JSON.parse(block);
    if (typeof value !== 'object' || value === null || !('message_type' in value)) continue;
    messages += 1;
    const type = (value as { message_type: unknown }).message_type;
    assert.ok(isMessageType(type), `PROTOCOL.md shows unknown type ${String(type)}`);
    assert.deepEqual(validateMessage(type, value), [], block);
    assert.ok(
      examples.some((example) => JSON.stringify(example.frame) === JSON.stringify(value)),
      `PROTOCOL.md shows a message that is not in protocol/examples:\n${block}`,
    );
  }
  assert.ok(messages >= 5, `expected the worked session in PROTOCOL.md, found ${messages} messages`);
});
