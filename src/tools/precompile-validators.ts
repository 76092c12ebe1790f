/**
 * For the one-file worker (bundle-worker.ts): every JSON Schema the worker
 * validates with is compiled at build time into plain functions (ajv's
 * standalone code), so the worker neither runs ajv's compiler nor keeps its
 * generated code around. An idle worker on a phone counts every MB: the
 * bundle's idle RSS went from 62.5 to 51.3 MB (npm run bench).
 *
 * In the bundle, `ajv` resolves to a small shim (AJV_SHIM below): it answers
 * getSchema/compile from these functions and falls back to the real ajv,
 * loaded on first need, for anything not compiled here (a plugin's schema).
 */
import { Ajv, type Options } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';
import { MASTER_SCHEMA, WORKER_SCHEMA } from '../common/config-schema.js';
import { readProtocolJson } from '../protocol/protocol-files.js';
import { replyResultRef } from '../protocol/schemas.js';
import { BUILTIN_TASK_TYPES } from '../protocol/task-payloads.js';
import { MESSAGE_TYPES, type MessageType } from '../protocol/types.js';

// CommonJS with a `default` export: under NodeNext the callable is `.default`.
const standaloneCode = standalone.default;

/** The frames a master sends a worker (PROTOCOL §5): the worker validates each on arrival. */
const WORKER_RECEIVES: readonly MessageType[] = ['ack', 'error', 'task_assign', 'task_cancel'];
/** The requests a worker sends: it validates the result in each ack. */
const WORKER_REQUESTS: readonly MessageType[] = ['register', 'heartbeat', 'task_result'];

interface Group {
  /** The options of the Ajv instance the runtime module makes (schemas.ts, task-payloads.ts, config.ts). */
  options: Options;
  /** Added to the instance (what refs resolve against), each under `id` when it has no $id of its own. */
  schemas: Array<{ schema: object; id?: string }>;
  /** The ref to compile, and the key the shim will be asked for: a getSchema ref, or a schema's $id (else its JSON). */
  entries: Array<{ ref: string; lookup: string }>;
}

/** How the shim tells instances apart (AJV_SHIM embeds this very function). */
function optionsKey(o: Options): string {
  return JSON.stringify({ allErrors: o.allErrors === true, strict: o.strict !== false, verbose: o.verbose === true });
}

/** How `compile(schema)` is looked up (AJV_SHIM embeds this very function). */
function schemaKey(schema: object): string {
  const id = (schema as { $id?: unknown }).$id;
  return typeof id === 'string' ? id : JSON.stringify(schema);
}

function idOf(schema: object): string {
  return (schema as { $id: string }).$id;
}

function protocolSchema(name: string): object {
  return readProtocolJson(`schema/${name}.schema.json`) as object;
}

/** Mirrors the instances and the lookups of src/protocol/schemas.ts, task-payloads.ts and common/config.ts. */
function groups(): Group[] {
  const common = protocolSchema('common');
  const envelope = protocolSchema('envelope');
  const messages = MESSAGE_TYPES.map(protocolSchema);
  // Only what a worker receives (session.ts): anything else from a master is rare enough for the real ajv.
  const received = WORKER_RECEIVES.map(protocolSchema);
  const wireRefs = [idOf(envelope), ...received.map(idOf), ...new Set(WORKER_REQUESTS.map(replyResultRef))];
  const payloads = BUILTIN_TASK_TYPES.map((t) => protocolSchema(`payload/${t}`));
  const configs = [MASTER_SCHEMA, WORKER_SCHEMA].map((s) => JSON.parse(JSON.stringify(s)) as object);
  return [
    {
      options: { allErrors: true, strict: false },
      schemas: [common, envelope, ...messages].map((schema) => ({ schema })),
      entries: wireRefs.map((ref) => ({ ref, lookup: ref })),
    },
    {
      options: { allErrors: true, strict: false, verbose: true },
      schemas: payloads.map((schema) => ({ schema })),
      entries: payloads.map((schema) => ({ ref: idOf(schema), lookup: schemaKey(schema) })),
    },
    {
      options: { allErrors: true, verbose: true },
      schemas: configs.map((schema, i) => ({ schema, id: `rc-config-${i}` })),
      entries: configs.map((schema, i) => ({ ref: `rc-config-${i}`, lookup: schemaKey(schema) })),
    },
  ];
}

/** CommonJS source: `lookup(optionsKey, key)` returns a compiled validator or undefined. */
export function precompiledValidatorsSource(): string {
  const parts: string[] = ['const groups = {};'];
  for (const group of groups()) {
    const ajv = new Ajv({ ...group.options, code: { source: true } });
    for (const { schema, id } of group.schemas) ajv.addSchema(schema, id);
    const refs = Object.fromEntries(group.entries.map((e, i) => [`v${i}`, e.ref]));
    const code = standaloneCode(ajv, refs);
    const map = group.entries.map((e, i) => `${JSON.stringify(e.lookup)}: exports.v${i}`).join(',\n');
    parts.push(`groups[${JSON.stringify(optionsKey(group.options))}] = (() => { const exports = {}; const module = { exports };\n${code}\nreturn {\n${map}\n}; })();`);
  }
  parts.push('exports.lookup = (optionsKey, key) => { const g = groups[optionsKey]; return g === undefined ? undefined : g[key]; };');
  return parts.join('\n');
}

/** What `ajv` is in the bundle (CommonJS). `ajv-real` is the package itself, required only on a miss. */
export const AJV_SHIM = `
const { lookup } = require('rc-precompiled-validators');
let RealAjv = null;
${optionsKey.toString()}
${schemaKey.toString()}
class Ajv {
  constructor(opts = {}) { this.opts = opts; this.key = optionsKey(opts); this.added = []; this.real = null; }
  addSchema(schema, key) { this.added.push([schema, key]); if (this.real !== null) this.real.addSchema(schema, key); return this; }
  getSchema(ref) { return lookup(this.key, ref) ?? this.fallback().getSchema(ref); }
  compile(schema) { return lookup(this.key, schemaKey(schema)) ?? this.fallback().compile(schema); }
  fallback() {
    if (this.real === null) {
      RealAjv ??= require('ajv-real').Ajv;
      this.real = new RealAjv(this.opts);
      for (const [schema, key] of this.added) this.real.addSchema(schema, key);
    }
    return this.real;
  }
}
module.exports = { Ajv, default: Ajv };
`;
