import { RcError } from '../common/errors.js';
import type { TaskRequirements } from '../store/store.js';

/** Every key a task's `requirements` object may carry, in the order problems are reported. */
export const REQUIREMENT_KEYS = [
  'min_cpu_cores',
  'min_memory_gb',
  'min_storage_gb',
  'platform',
  'arch',
  'role',
  'tags',
  'gpu',
  'device_id',
  'min_battery_percent',
  'requires_charging',
] as const satisfies ReadonlyArray<keyof TaskRequirements>;

export type RequirementKey = (typeof REQUIREMENT_KEYS)[number];

// Compile-time guard: a key added to TaskRequirements must be added above too.
type Unlisted = Exclude<keyof TaskRequirements, RequirementKey>;
const ALL_KEYS_LISTED: [Unlisted] extends [never] ? true : never = true;
void ALL_KEYS_LISTED;

export const MAX_REQUIREMENT_STRING = 128;
export const MAX_REQUIREMENT_TAGS = 32;

interface Rule {
  /** Shown in problems: "<key> must be <expected>". */
  expected: string;
  isValid(v: unknown): boolean;
}

const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_REQUIREMENT_STRING;
const AMOUNT: Rule = { expected: 'a finite number ≥ 0', isValid: (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 };
const PERCENT: Rule = { expected: 'a number from 0 to 100', isValid: (v) => typeof v === 'number' && v >= 0 && v <= 100 };
const TEXT: Rule = { expected: `a non-empty string of at most ${MAX_REQUIREMENT_STRING} characters`, isValid: isText };
const FLAG: Rule = { expected: 'a boolean (true or false)', isValid: (v) => typeof v === 'boolean' };
const TAGS: Rule = {
  expected: `an array of at most ${MAX_REQUIREMENT_TAGS} non-empty strings (each at most ${MAX_REQUIREMENT_STRING} characters)`,
  isValid: (v) => Array.isArray(v) && v.length <= MAX_REQUIREMENT_TAGS && v.every(isText),
};

const RULES: Readonly<Record<RequirementKey, Rule>> = {
  min_cpu_cores: AMOUNT,
  min_memory_gb: AMOUNT,
  min_storage_gb: AMOUNT,
  platform: TEXT,
  arch: TEXT,
  role: TEXT,
  tags: TAGS,
  gpu: FLAG,
  device_id: TEXT,
  min_battery_percent: PERCENT,
  requires_charging: FLAG,
};

function isRequirementKey(key: string): key is RequirementKey {
  return Object.hasOwn(RULES, key);
}

/** A short rendering of a bad value for a problem message. */
function describeValue(v: unknown): string {
  if (v === null || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'object' && !Array.isArray(v)) return 'an object';
  const json = JSON.stringify(v) ?? typeof v;
  return json.length > 60 ? `${json.slice(0, 60)}…` : json;
}

function unknownKeyProblem(key: string): string {
  return `unknown requirement "${key}"; valid keys: ${REQUIREMENT_KEYS.join(', ')}`;
}

/** The problem with one key's value, or null when it is valid. */
function checkValue(key: RequirementKey, v: unknown): string | null {
  const rule = RULES[key];
  return rule.isValid(v) ? null : `${key} must be ${rule.expected}, got ${describeValue(v)}`;
}

/**
 * Check a submitted `requirements` value. Every problem is listed (one line
 * each, naming the key) so a user can fix them all at once; `requirements`
 * holds only the valid keys, copied, so the caller never shares the input.
 */
export function validateRequirements(value: unknown): { requirements: TaskRequirements; problems: string[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { requirements: {}, problems: [`requirements must be an object, got ${describeValue(value)}`] };
  }
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (!isRequirementKey(key)) {
      problems.push(unknownKeyProblem(key));
      continue;
    }
    const problem = checkValue(key, v);
    if (problem !== null) problems.push(problem);
    else out[key] = Array.isArray(v) ? [...(v as string[])] : v;
  }
  return { requirements: out as TaskRequirements, problems };
}

const NUMBER_TEXT = /^[0-9]+(\.[0-9]+)?$/;
const BOOLEAN_KEYS: ReadonlySet<RequirementKey> = new Set(['gpu', 'requires_charging']);

function flagError(message: string): RcError {
  return new RcError('RC_ERR_TASK_REQUIREMENTS', message, { status: 400 });
}

function parseFlagValue(key: RequirementKey, raw: string): unknown {
  if (key.startsWith('min_')) {
    if (!NUMBER_TEXT.test(raw)) throw flagError(`--require ${key}: "${raw}" is not a number ≥ 0 (e.g. ${key}=2)`);
    return Number(raw);
  }
  if (BOOLEAN_KEYS.has(key)) {
    const lower = raw.toLowerCase();
    if (lower !== 'true' && lower !== 'false') throw flagError(`--require ${key}: "${raw}" is not true or false`);
    return lower === 'true';
  }
  if (key === 'tags') return raw.split(',').map((t) => t.trim());
  return raw;
}

/**
 * Parse one CLI `--require key=value`: numbers for `min_*` keys, `true`/`false`
 * for `gpu` and `requires_charging`, a comma list for `tags`, a string for the
 * rest. Throws an `RcError` (`RC_ERR_TASK_REQUIREMENTS`, an `Error`) whose
 * message says what is wrong and what would be right.
 */
export function parseRequirementFlag(text: string): { key: string; value: unknown } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw flagError(`--require "${text}" must look like key=value (e.g. min_memory_gb=4)`);
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1).trim();
  if (!isRequirementKey(key)) throw flagError(`--require: ${unknownKeyProblem(key)}`);
  if (raw === '') throw flagError(`--require ${key}: the value is empty`);
  const value = parseFlagValue(key, raw);
  const problem = checkValue(key, value);
  if (problem !== null) throw flagError(`--require ${problem}`);
  return { key, value };
}
