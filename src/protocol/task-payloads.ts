/**
 * Payload schemas of the built-in task types (protocol/schema/payload/).
 *
 * The master checks a payload at submit and the worker again at accept, with
 * the same schema files, so a payload of the wrong shape is refused before it
 * reaches a device. Plugin task types bring their own schema; it is compiled
 * here too, once per schema object.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { readProtocolJson } from './protocol-files.js';
import { collectViolations, type SchemaViolation } from './schemas.js';

export { formatViolations } from './schemas.js';

/** Every task type a worker can offer without plugins (`shell` only with `--allow shell`). */
export const BUILTIN_TASK_TYPES: readonly string[] = Object.freeze(['echo', 'sleep', 'system_info', 'exec', 'shell', 'http']);

export type PayloadValidator = (payload: unknown) => SchemaViolation[];

// verbose: errors carry the failing (sub)schema, which is where `errorMessage` lives.
const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const validators = new WeakMap<object, ValidateFunction>();

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function readPayloadSchema(type: string): object {
  const file = `schema/payload/${type}.schema.json`;
  const schema: unknown = readProtocolJson(file);
  if (typeof schema !== 'object' || schema === null) throw new Error(`${file}: not a schema object`);
  return deepFreeze(schema);
}

const builtinSchemas = new Map<string, object>(BUILTIN_TASK_TYPES.map((type) => [type, readPayloadSchema(type)]));

/** The payload schema of a built-in task type (frozen), or null for any other type. */
export function payloadSchema(type: string): object | null {
  return builtinSchemas.get(type) ?? null;
}

/** Like payloadSchema, for a type known to be built in: a missing schema file is a packaging bug, so it throws. */
export function builtinPayloadSchema(type: string): object {
  const schema = builtinSchemas.get(type);
  if (schema === undefined) throw new Error(`no payload schema for built-in task type ${type}`);
  return schema;
}

/**
 * A validator for any payload schema, compiled on first use and cached per
 * schema object. Throws if the schema itself does not compile (a broken plugin).
 */
export function payloadValidator(schema: object): PayloadValidator {
  let validate = validators.get(schema);
  if (validate === undefined) {
    validate = ajv.compile(schema);
    validators.set(schema, validate);
  }
  const compiled = validate;
  return (payload) => (compiled(payload) ? [] : toViolations(compiled.errors));
}

/**
 * Checks a payload against its built-in task type's schema. For a type that
 * is not built in, `known` is false and nothing is checked (a plugin on the
 * worker checks it at accept).
 */
export function validatePayload(type: string, payload: unknown): { known: boolean; violations: SchemaViolation[] } {
  const schema = builtinSchemas.get(type);
  if (schema === undefined) return { known: false, violations: [] };
  return { known: true, violations: payloadValidator(schema)(payload) };
}

function toViolations(errors: ErrorObject[] | null | undefined): SchemaViolation[] {
  return collectViolations(errors, toViolation);
}

function toViolation(error: ErrorObject): SchemaViolation {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') {
    const allowed = Object.keys(propertiesOf(error.parentSchema)).join(', ') || 'none';
    return { path: `${error.instancePath}/${escapePointer(String(params['additionalProperty']))}`, message: `is not allowed (allowed fields: ${allowed})` };
  }
  return { path: error.instancePath, message: customMessage(error) ?? describe(error, params) };
}

/** A schema's own wording: `errorMessage` on the failing keyword's subschema (`not`) or on its parent. */
function customMessage(error: ErrorObject): string | undefined {
  for (const candidate of [error.schema, error.parentSchema]) {
    const message = (candidate as { errorMessage?: unknown } | null | undefined)?.errorMessage;
    if (typeof candidate === 'object' && typeof message === 'string') return message;
  }
  return undefined;
}

function describe(error: ErrorObject, params: Record<string, unknown>): string {
  switch (error.keyword) {
    case 'type':
      return `must be ${String(params['type']).split(',').join(' or ')}`;
    case 'enum':
      return `must be one of ${(params['allowedValues'] as unknown[]).map(String).join(', ')}`;
    case 'required':
      return `must have the field ${String(params['missingProperty'])}`;
    case 'minItems':
      return `must have at least ${String(params['limit'])} item(s)`;
    default:
      return error.message ?? 'is invalid';
  }
}

function propertiesOf(schema: unknown): Record<string, unknown> {
  const properties = (schema as { properties?: unknown } | undefined)?.properties;
  return typeof properties === 'object' && properties !== null ? (properties as Record<string, unknown>) : {};
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
