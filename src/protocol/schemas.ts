/**
 * JSON Schema validation of wire frames (PROTOCOL §3, §5).
 *
 * The schemas in protocol/schema/ are the machine-checked form of
 * PROTOCOL.md. They are read once, at module load (protocol-files.ts), and compiled
 * into ajv validators once; validating a frame is then one function call.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { readProtocolJson } from './protocol-files.js';
import { MESSAGE_TYPES, type MessageType } from './types.js';

export interface SchemaViolation {
  /** JSON Pointer into the frame, e.g. `/data/metrics/cpu_usage` (`` for the frame itself). */
  path: string;
  /** Human-readable, e.g. `must be number`. */
  message: string;
}

/** More than this many violations tell a peer nothing new and cost bytes. */
const MAX_VIOLATIONS = 10;

/** Request types whose ack carries a result with a specified shape (PROTOCOL §5). */
const REPLY_RESULT_DEFINITIONS: Partial<Record<MessageType, string>> = {
  register: 'register_result',
  heartbeat: 'heartbeat_result',
  status: 'status_result',
  list_devices: 'list_devices_result',
  device_info: 'device_info_result',
};

export { PROTOCOL_DIR } from './protocol-files.js';

interface LoadedSchema {
  $id: string;
  [key: string]: unknown;
}

function readSchema(name: string): LoadedSchema {
  const file = `schema/${name}.schema.json`;
  const schema: unknown = readProtocolJson(file);
  if (typeof schema !== 'object' || schema === null || typeof (schema as { $id?: unknown }).$id !== 'string') {
    throw new Error(`${file}: not a schema object with a string $id`);
  }
  return schema as LoadedSchema;
}

const commonSchema = readSchema('common');
const envelopeSchema = readSchema('envelope');
const messageSchemas = Object.fromEntries(MESSAGE_TYPES.map((type) => [type, readSchema(type)])) as Record<
  MessageType,
  LoadedSchema
>;

const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addSchema([commonSchema, envelopeSchema, ...Object.values(messageSchemas)]);

function compiled(ref: string): ValidateFunction {
  const validate = ajv.getSchema(ref);
  if (validate === undefined) throw new Error(`schema ${ref} did not compile`);
  return validate;
}

const validateEnvelopeFn = compiled(envelopeSchema.$id);
const KNOWN_TYPES: ReadonlySet<string> = new Set(MESSAGE_TYPES);

/**
 * Validators are compiled on first use, once: a worker sees a handful of the
 * message types, and each compiled validator costs memory a phone would
 * rather keep (about 16 MB for all of them). The protocol-schemas tests
 * compile every one.
 */
function lazyValidators(refOf: (type: MessageType) => string): (type: MessageType) => ValidateFunction | undefined {
  const cache = new Map<MessageType, ValidateFunction>();
  return (type) => {
    if (!KNOWN_TYPES.has(type)) return undefined;
    let validate = cache.get(type);
    if (validate === undefined) {
      validate = compiled(refOf(type));
      cache.set(type, validate);
    }
    return validate;
  };
}

const messageValidator = lazyValidators((type) => messageSchemas[type].$id);
/** The schema ref of what an ack to a `requestType` carries in `data.result` (PROTOCOL §5). */
export function replyResultRef(requestType: MessageType): string {
  return `${commonSchema.$id}#/definitions/${REPLY_RESULT_DEFINITIONS[requestType] ?? 'reply_result'}`;
}

const replyResultValidator = lazyValidators(replyResultRef);

const TIMESTAMP_PATTERN: unknown = (commonSchema.definitions as { timestamp_pattern?: { pattern?: unknown } })
  .timestamp_pattern?.pattern;

/** Rewords the ajv messages a peer would otherwise find cryptic. */
function describe(error: ErrorObject): string {
  const message = error.message ?? 'is invalid';
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'type':
      return `must be ${String(params.type).split(',').join(' or ')}`;
    case 'enum':
      return `${message}: ${(params.allowedValues as unknown[]).join(', ')}`;
    case 'const':
      return `${message}: ${JSON.stringify(params.allowedValue)}`;
    case 'pattern':
      return params.pattern === TIMESTAMP_PATTERN ? 'must be an ISO 8601 date-time, e.g. 2026-11-24T19:00:00.123Z' : message;
    default:
      return message;
  }
}

/**
 * ajv errors as violations: mapped by `toViolation`, duplicates dropped, at
 * most MAX_VIOLATIONS (more tell a sender nothing new). Shared with the task
 * payload validators, which word some errors their own way.
 */
export function collectViolations(
  errors: ErrorObject[] | null | undefined,
  toViolation: (error: ErrorObject) => SchemaViolation,
): SchemaViolation[] {
  const violations: SchemaViolation[] = [];
  const seen = new Set<string>();
  for (const error of errors ?? []) {
    const violation = toViolation(error);
    const key = `${violation.path}\u0000${violation.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    violations.push(violation);
    if (violations.length === MAX_VIOLATIONS) break;
  }
  return violations;
}

/** `/command must be array; /colour is not allowed`: one line for an error frame, an HTTP error or a log. */
export function formatViolations(violations: readonly SchemaViolation[]): string {
  return violations.map((v) => `${v.path || '/'} ${v.message}`).join('; ');
}

function toViolations(errors: ErrorObject[] | null | undefined): SchemaViolation[] {
  return collectViolations(errors, (error) => ({ path: error.instancePath, message: describe(error) }));
}

function run(validate: ValidateFunction, value: unknown): SchemaViolation[] {
  return validate(value) ? [] : toViolations(validate.errors);
}

/** Validates a whole parsed frame for `type` (envelope + data). [] means valid. */
export function validateMessage(type: MessageType, frame: unknown): SchemaViolation[] {
  const validate = messageValidator(type);
  if (validate === undefined) return [{ path: '/message_type', message: `unknown message type ${String(type)}` }];
  return run(validate, frame);
}

/** Validates only the envelope fields (used before the type is known to be valid). */
export function validateEnvelope(frame: unknown): SchemaViolation[] {
  return run(validateEnvelopeFn, frame);
}

/**
 * Validates `ack.data.result` against the shape PROTOCOL §5 specifies for
 * replies to `requestType` (register, heartbeat, status, list_devices,
 * device_info); for other request types only `success` is checked. Paths are
 * relative to the result object.
 */
export function validateReplyResult(requestType: MessageType, result: unknown): SchemaViolation[] {
  const validate = replyResultValidator(requestType);
  if (validate === undefined) return [{ path: '', message: `unknown message type ${String(requestType)}` }];
  return run(validate, result);
}

/** Every schema by message type, as loaded from disk. */
export function loadMessageSchemas(): Record<MessageType, object> {
  return { ...messageSchemas };
}

/**
 * A validator for any other schema file under protocol/schema/ (HTTP bodies,
 * task payloads), compiled once, reporting like the wire validators.
 */
export function schemaFileValidator(relativePath: string): (value: unknown) => SchemaViolation[] {
  let validate = fileValidators.get(relativePath);
  if (validate === undefined) {
    const schema: unknown = readProtocolJson(`schema/${relativePath}`);
    validate = ajv.compile(schema as object);
    fileValidators.set(relativePath, validate);
  }
  const compiledValidate = validate;
  return (value) => run(compiledValidate, value);
}

// ajv refuses to compile one $id twice, so each file is compiled once per process.
const fileValidators = new Map<string, ValidateFunction>();
