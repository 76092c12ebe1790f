import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import { MASTER_DEFAULTS } from '../../src/common/config.js';
import { MASTER_SCHEMA } from '../../src/common/config-schema.js';
import { PROTOCOL_DIR, readProtocolJson } from '../../src/protocol/protocol-files.js';
import { MESSAGE_TYPES } from '../../src/protocol/types.js';
import { AJV_SHIM, precompiledValidatorsSource } from '../../src/tools/precompile-validators.js';

type Lookup = (optionsKey: string, key: string) => ValidateFunction | undefined;
const requireHere = createRequire(import.meta.url);

/** The generated module, evaluated as the bundle would (CommonJS, ajv's runtime helpers from node_modules). */
function loadPrecompiled(): Lookup {
  const module = { exports: {} as { lookup?: Lookup } };
  new Function('exports', 'require', 'module', precompiledValidatorsSource())(module.exports, requireHere, module);
  return module.exports.lookup!;
}

const lookup = loadPrecompiled();
const WIRE: Options = { allErrors: true, strict: false };
const PAYLOAD: Options = { allErrors: true, strict: false, verbose: true };
const CONFIG: Options = { allErrors: true, verbose: true };
const key = (o: Options): string => JSON.stringify({ allErrors: o.allErrors === true, strict: o.strict !== false, verbose: o.verbose === true });
const summary = (errors: ErrorObject[] | null | undefined): string[] => (errors ?? []).map((e) => `${e.instancePath} ${e.keyword}`).sort();

function wireAjv(): Ajv {
  const ajv = new Ajv(WIRE);
  ajv.addSchema(['common', 'envelope', ...MESSAGE_TYPES].map((n) => readProtocolJson(`schema/${n}.schema.json`) as object));
  return ajv;
}

/** Same verdict and the same errors (path and keyword) as ajv compiling the schema at run time. */
function assertSame(pre: ValidateFunction | undefined, live: ValidateFunction, value: unknown, what: string): void {
  assert.ok(pre, `${what}: compiled at build time`);
  assert.equal(pre(value), live(value), `${what}: verdict`);
  assert.deepEqual(summary(pre.errors), summary(live.errors), `${what}: errors`);
}

test('every frame a worker receives has a precompiled validator that agrees with ajv on the protocol examples and broken copies of them', () => {
  const ajv = wireAjv();
  const received = new Set(['ack', 'error', 'task_assign', 'task_cancel']);
  const examples = readdirSync(join(PROTOCOL_DIR, 'examples')).filter((f) => f.endsWith('.json'));
  let checked = 0;
  for (const file of examples) {
    const frame = JSON.parse(readFileSync(join(PROTOCOL_DIR, 'examples', file), 'utf8')) as Record<string, unknown>;
    const type = String(frame['message_type']);
    const ref = (readProtocolJson(`schema/${type}.schema.json`) as { $id: string }).$id;
    if (!received.has(type)) {
      assert.equal(lookup(key(WIRE), ref), undefined, `${type} goes master-wards: left to the real ajv`);
      continue;
    }
    const live = ajv.getSchema(ref)!;
    assertSame(lookup(key(WIRE), ref), live, frame, file);
    assertSame(lookup(key(WIRE), ref), live, { ...frame, data: 'not an object', message_id: 7 }, `${file} broken`);
    checked++;
  }
  assert.ok(checked >= 8, `examples of every received type (${checked})`);
  const reply = `${(readProtocolJson('schema/common.schema.json') as { $id: string }).$id}#/definitions/heartbeat_result`;
  assertSame(lookup(key(WIRE), reply), ajv.getSchema(reply)!, { success: true, heartbeat_interval: 'soon' }, 'heartbeat result');
});

test('payload and config validators agree with ajv too, verbose errors included', () => {
  const payloads = new Ajv(PAYLOAD);
  const exec = readProtocolJson('schema/payload/exec.schema.json') as { $id: string };
  const live = payloads.compile(exec);
  for (const payload of [{ command: ['ls', '-l'] }, { command: 'ls' }, { command: [] }, { command: ['x'], colour: 1 }]) {
    assertSame(lookup(key(PAYLOAD), exec.$id), live, payload, `exec ${JSON.stringify(payload)}`);
  }
  const pre = lookup(key(PAYLOAD), exec.$id)!;
  pre({ command: 'ls' });
  assert.ok(pre.errors?.every((e) => e.parentSchema !== undefined), 'verbose: the failing schema is there for custom messages');
  const config = new Ajv(CONFIG).compile(MASTER_SCHEMA);
  for (const value of [{ ...MASTER_DEFAULTS }, { ...MASTER_DEFAULTS, port: 'eighty' }]) {
    assertSame(lookup(key(CONFIG), JSON.stringify(MASTER_SCHEMA)), config, value, `master config ${String(value.port)}`);
  }
});

test('the shim answers from the precompiled set and compiles anything else (a plugin schema) with the real ajv, loaded then', () => {
  let realLoads = 0;
  const fakeRequire = (name: string): unknown => {
    if (name === 'rc-precompiled-validators') return { lookup };
    if (name === 'ajv-real') {
      realLoads++;
      return requireHere('ajv');
    }
    throw new Error(`unexpected require ${name}`);
  };
  const module = { exports: {} as { Ajv: typeof Ajv } };
  new Function('exports', 'require', 'module', AJV_SHIM)(module.exports, fakeRequire, module);
  const shim = new module.exports.Ajv(WIRE);
  shim.addSchema(['common', 'envelope', ...MESSAGE_TYPES].map((n) => readProtocolJson(`schema/${n}.schema.json`) as object));
  const assign = shim.getSchema((readProtocolJson('schema/task_assign.schema.json') as { $id: string }).$id);
  assert.equal(typeof assign, 'function');
  assert.equal(realLoads, 0, 'no real ajv for a precompiled schema');
  const plugin = shim.compile({ type: 'object', required: ['n'], properties: { n: { type: 'integer' } } });
  assert.equal(realLoads, 1, 'the real ajv for a schema it has not seen');
  assert.equal(plugin({ n: 1 }), true);
  assert.equal(plugin({ n: 'x' }), false);
});
