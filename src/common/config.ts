/**
 * Config loading for rc-master and rc-worker (STYLE §6). Layers, lowest
 * first: code defaults → JSON config file → `RC_*` environment → CLI flags.
 * The merged object is validated once against the role's JSON Schema, every
 * violation is listed in one ConfigError naming its source and key, and the
 * result is frozen. Types and schemas live in `config-schema.ts`.
 */
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { join as joinPath } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ConfigError } from './errors.js';
import {
  MASTER_SCHEMA, MASTER_SOURCES, SECRET_KEYS, WORKER_SCHEMA, WORKER_SOURCES,
  type ConfigSchema, type MasterConfig, type PropertySchema, type SettingSource, type WorkerConfig,
} from './config-schema.js';

export type { LogLevel, MasterConfig, WorkerConfig } from './config-schema.js';

/** `flags` holds only the options the user actually gave (camelCase keys as commander produces them, string|boolean values). */
export interface ConfigSources {
  flags: Record<string, unknown>;
  env: Record<string, string | undefined>;
  configPath?: string | undefined;
}

export const MASTER_DEFAULTS: Readonly<MasterConfig> = Object.freeze({
  host: '0.0.0.0', // worker (TCP) listen address
  port: 8080, // worker (TCP) port; 0 = ephemeral
  http_host: '0.0.0.0',
  http_port: 5000,
  data_dir: './data', // relative to the working directory
  log_level: 'info',
  heartbeat_interval_s: 15,
  offline_after_s: 60,
  lost_after_s: 120,
  store_max_size_mb: null, // cap on the database size; null = as big as the disk allows
  flap_window_s: 600, // connection drops are counted over this window…
  flap_threshold: 3, // …and this many make a device `unstable`
  heartbeat_retention_s: 86_400, // 1 day
  max_line_bytes: 1_048_576, // 1 MiB per NDJSON frame
  join_token: null, // null = any worker may join
  api_token: null, // null = HTTP API is open
  insecure: false,
  lease_s: 60, // an assigned task must start within this, or it is requeued
  task_timeout_grace_s: 30, // the master's own timeout = timeout_s + this
  aging_step_s: 300, // a waiting task gains one priority level per step (0 = no aging)
  retry_base_s: 2, // backoff before a retry: base × 2^(retry-1)…
  retry_max_s: 300, // …capped here
  max_connections: 20_000, // wire connections in total (the fd limit here is 20k)
  max_pending_per_ip: 32, // connections per IP that have not registered yet
  register_timeout_s: 10, // an unregistered connection silent this long is closed (slowloris)
  max_msgs_per_s: 20_000, // per registered connection; bursts up to 2× are allowed
  max_msgs_per_s_unregistered: 200, // per connection before register (status tools, legacy one-shots)
  tls_cert: null, // PEM file: with tls_key, serve TLS on both the worker port and HTTP
  tls_key: null,
  http_auth_reads: false, // true: HTTP reads need the API token too (all but /health)
  http_writes_per_min: 600, // HTTP writes per client IP per minute
  http_body_limit_bytes: 67_108_864, // 64 MiB: room for a batch of thousands of tasks
  max_pending_write_bytes: 16_777_216, // unsent bytes to one peer before it is dropped as not reading
});

/** Worker defaults; `data_dir` lives under the user's home so it survives reboots of phones/Pis. */
export function workerDefaults(homeDir: string): Readonly<WorkerConfig> {
  return Object.freeze({
    join: null, // "host[:port]" of the master
    device_id: null, // null = the worker chooses its own id
    data_dir: joinPath(homeDir, '.retire-cluster'),
    role: 'worker',
    tags: Object.freeze([]) as unknown as string[],
    max_tasks: 2,
    log_level: 'info',
    token: null,
    backoff_base_s: 1,
    backoff_max_s: 60,
    max_line_bytes: 1_048_576, // 1 MiB per NDJSON frame
    allow: Object.freeze([]) as unknown as string[], // opt-in task types: "exec", "shell"
    plugins: null, // directory of *.js task-type plugins
    output_cap_bytes: 1_048_576, // task output kept per task
    tls: false, // connect to the master over TLS (implied by tls_fingerprint)
    tls_fingerprint: null, // pin the master's certificate by its SHA-256
    shutdown_grace_s: 30, // on SIGTERM, running tasks get this long before they are given back
    // Power and heat (defaults suit a phone): on battery, pause below 30 % and resume above 40 %;
    // pause above 45 °C and resume 5 °C below; readings every 30 s.
    pause_battery_below_pct: 30,
    resume_battery_above_pct: 40,
    only_when_charging: false,
    pause_temp_above_c: 45,
    resume_temp_delta_c: 5,
    power_check_s: 30,
  });
}

export function resolveMasterConfig(src: ConfigSources): Readonly<MasterConfig> {
  return resolveConfig(MASTER_ROLE, MASTER_DEFAULTS, src);
}

export function resolveWorkerConfig(src: ConfigSources): Readonly<WorkerConfig> {
  return resolveConfig(WORKER_ROLE, workerDefaults(homedir()), src);
}

export const DEFAULT_JOIN_PORT = 8080;

/**
 * Parses "host", "host:port", "[v6]" or "[v6]:port" → {host, port}; the port
 * defaults to 8080 and must be 1..65535. A bare IPv6 literal ("::1") is
 * refused: "::1:8080" would be ambiguous, so IPv6 must be bracketed.
 * @throws ConfigError when malformed.
 */
export function parseJoinAddress(value: string): { host: string; port: number } {
  const parsed = splitJoinAddress(value);
  if (!parsed.ok) throw new ConfigError([`join address ${JSON.stringify(value)} is not valid: ${parsed.problem}`]);
  return parsed.value;
}

// ---------------------------------------------------------------- internals

type Result<T> = { ok: true; value: T } | { ok: false; problem: string };
type Kind = 'integer' | 'number' | 'boolean' | 'string' | 'list';

/** One setting's current value and where it came from ("flag --port", "config file x.json"). */
interface Entry { value: unknown; source: string; isKeyed: boolean }
type Layers = Map<string, Entry>;

/** A cross-field rule: `key` must exceed (or reach) `factor` × `other`. */
interface FieldRule { key: string; other: string; factor: number; isStrict: boolean }

interface Role {
  validate: ValidateFunction;
  sources: Readonly<Record<string, SettingSource>>;
  kinds: ReadonlyMap<string, Kind>;
  rules: readonly FieldRule[];
  hasJoin: boolean;
}

const ajv = new Ajv({ allErrors: true, verbose: true });

const MASTER_ROLE: Role = {
  validate: ajv.compile(MASTER_SCHEMA),
  sources: MASTER_SOURCES,
  kinds: kindsOf(MASTER_SCHEMA),
  rules: [
    // Two missed heartbeats must not mark a device offline.
    { key: 'offline_after_s', other: 'heartbeat_interval_s', factor: 2, isStrict: true },
    // A device goes offline before it is lost, never the other way round.
    { key: 'lost_after_s', other: 'offline_after_s', factor: 1, isStrict: true },
  ],
  hasJoin: false,
};

const WORKER_ROLE: Role = {
  validate: ajv.compile(WORKER_SCHEMA),
  sources: WORKER_SOURCES,
  kinds: kindsOf(WORKER_SCHEMA),
  rules: [
    { key: 'backoff_max_s', other: 'backoff_base_s', factor: 1, isStrict: false },
    // Equal thresholds would pause and resume on the same reading: the hysteresis needs a gap.
    { key: 'resume_battery_above_pct', other: 'pause_battery_below_pct', factor: 1, isStrict: true },
  ],
  hasJoin: true,
};

function resolveConfig<T extends object>(role: Role, defaults: Readonly<T>, src: ConfigSources): Readonly<T> {
  const problems: string[] = [];
  // Keys that already have a problem; cross-field checks skip them to avoid noise.
  const badKeys = new Set<string>();
  const layers: Layers = new Map();
  for (const [key, value] of Object.entries(defaults)) layers.set(key, { value, source: 'default', isKeyed: true });
  if (src.configPath !== undefined) layerFile(layers, src.configPath, problems);
  layerEnv(layers, role, src.env, problems, badKeys);
  layerFlags(layers, role, src.flags, problems, badKeys);
  const candidate = Object.fromEntries([...layers].map(([key, entry]) => [key, entry.value]));
  problems.push(...schemaProblems(role, candidate, layers, badKeys));
  problems.push(...fieldProblems(role, candidate, layers, badKeys));
  if (problems.length > 0) throw new ConfigError(problems);
  return freezeConfig(candidate) as Readonly<T>;
}

function kindsOf<T>(schema: ConfigSchema<T>): ReadonlyMap<string, Kind> {
  const properties: Readonly<Record<string, PropertySchema>> = schema.properties;
  const kinds = new Map<string, Kind>();
  for (const [key, prop] of Object.entries(properties)) kinds.set(key, prop.type === 'array' ? 'list' : prop.type);
  return kinds;
}

function labelOf(entry: Entry, key: string): string {
  return entry.isKeyed ? `${entry.source}: key "${key}"` : entry.source;
}

// ---------------------------------------------------------------- layers

/** Every key of the file is layered, known or not, so the schema names typos. */
function layerFile(layers: Layers, path: string, problems: string[]): void {
  const read = readConfigFile(path);
  if (!read.ok) {
    problems.push(`config file ${path}: ${read.problem}`);
    return;
  }
  for (const [key, value] of Object.entries(read.value)) {
    layers.set(key, { value, source: `config file ${path}`, isKeyed: true });
  }
}

function readConfigFile(path: string): Result<Record<string, unknown>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    return fail(`is not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return fail(`must hold a JSON object, not ${parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : typeof parsed}`);
  }
  return ok(parsed as Record<string, unknown>);
}

function layerEnv(layers: Layers, role: Role, env: ConfigSources['env'], problems: string[], badKeys: Set<string>): void {
  for (const [key, source] of Object.entries(role.sources)) {
    const text = env[source.env];
    if (text === undefined || text === '') continue;
    const entry = { value: undefined, source: `env ${source.env}`, isKeyed: false };
    layerValue(layers, key, entry, convertText(kindOf(role, key), text), problems, badKeys);
  }
}

function layerFlags(layers: Layers, role: Role, flags: ConfigSources['flags'], problems: string[], badKeys: Set<string>): void {
  for (const [key, source] of Object.entries(role.sources)) {
    if (source.flag === undefined) continue;
    const raw = flags[camelCase(source.flag)];
    if (raw === undefined) continue;
    const entry = { value: undefined, source: `flag --${source.flag}`, isKeyed: false };
    layerValue(layers, key, entry, convertFlag(kindOf(role, key), raw), problems, badKeys);
  }
}

/** A value that does not convert leaves the lower layer in place and is reported once. */
function layerValue(layers: Layers, key: string, entry: Entry, converted: Result<unknown>, problems: string[], badKeys: Set<string>): void {
  if (!converted.ok) {
    problems.push(`${labelOf(entry, key)}: ${converted.problem}`);
    badKeys.add(key);
    return;
  }
  layers.set(key, { ...entry, value: converted.value });
}

function kindOf(role: Role, key: string): Kind {
  return role.kinds.get(key) ?? 'string';
}

function camelCase(kebab: string): string {
  return kebab.replace(/-([a-z])/g, (_match, letter: string) => letter.toUpperCase());
}

// ---------------------------------------------------------------- conversion

const INTEGER_TEXT = /^[+-]?\d+$/;
const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const BOOLEAN_TEXT: ReadonlyMap<string, boolean> = new Map([
  ['1', true], ['true', true], ['yes', true], ['0', false], ['false', false], ['no', false],
]);

/** Env values and flag values are text; convert them by the setting's schema type. */
function convertText(kind: Kind, text: string): Result<unknown> {
  const trimmed = text.trim();
  switch (kind) {
    case 'integer': {
      const value = Number(trimmed);
      return INTEGER_TEXT.test(trimmed) && Number.isSafeInteger(value) ? ok(value) : fail(`${quote(text)} is not an integer`);
    }
    case 'number':
      return NUMBER_TEXT.test(trimmed) && Number.isFinite(Number(trimmed)) ? ok(Number(trimmed)) : fail(`${quote(text)} is not a number`);
    case 'boolean': {
      const value = BOOLEAN_TEXT.get(trimmed.toLowerCase());
      return value === undefined ? fail(`${quote(text)} is not a boolean (use 1/0, true/false or yes/no)`) : ok(value);
    }
    case 'list':
      return ok(splitList(text));
    case 'string':
      return ok(text);
  }
}

function convertFlag(kind: Kind, raw: unknown): Result<unknown> {
  if (typeof raw === 'string') return convertText(kind, raw);
  if (typeof raw === 'boolean') return kind === 'boolean' ? ok(raw) : fail('needs a value');
  if (typeof raw === 'number' && (kind === 'integer' || kind === 'number')) return ok(raw);
  if (Array.isArray(raw) && kind === 'list' && raw.every((item) => typeof item === 'string')) {
    return ok(splitList(raw.join(',')));
  }
  return fail(`has an unusable value ${quote(raw)}`);
}

function splitList(text: string): string[] {
  return text.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

// ---------------------------------------------------------------- validation

function schemaProblems(role: Role, candidate: object, layers: Layers, badKeys: Set<string>): string[] {
  if (role.validate(candidate)) return [];
  return (role.validate.errors ?? []).map((error) => describeSchemaError(error, role, layers, badKeys));
}

function describeSchemaError(error: ErrorObject, role: Role, layers: Layers, badKeys: Set<string>): string {
  const [key, ...itemPath] = error.instancePath.split('/').slice(1).map(decodePointer);
  if (key === undefined) return describeRootError(error, role, layers);
  badKeys.add(key);
  const entry = layers.get(key);
  const label = entry === undefined ? `key "${key}"` : labelOf(entry, key);
  const item = itemPath.length > 0 ? `item ${itemPath.join('/')} ` : '';
  return `${label}: ${item}${show(key, error.data)} ${reasonOf(error)}`;
}

function describeRootError(error: ErrorObject, role: Role, layers: Layers): string {
  if (error.keyword !== 'additionalProperties') return `config: ${error.message ?? 'is invalid'}`;
  const key = String(error.params['additionalProperty']);
  const entry = layers.get(key);
  const label = entry === undefined ? `key "${key}"` : labelOf(entry, key);
  return `${label} is not a known setting${suggest(key, Object.keys(role.sources))}`;
}

function reasonOf(error: ErrorObject): string {
  switch (error.keyword) {
    case 'type':
      return `must be of type ${String(error.params['type'])}`;
    case 'uniqueItems':
      return 'must NOT repeat an item';
    case 'enum':
      return `must be one of ${(error.params['allowedValues'] as unknown[]).join(', ')}`;
    default:
      return error.message ?? 'is invalid';
  }
}

function fieldProblems(role: Role, candidate: Record<string, unknown>, layers: Layers, badKeys: Set<string>): string[] {
  const problems = role.rules.flatMap((rule) => checkRule(rule, candidate, layers, badKeys));
  const join = candidate['join'];
  if (role.hasJoin && typeof join === 'string' && !badKeys.has('join')) {
    const parsed = splitJoinAddress(join);
    const entry = layers.get('join');
    if (!parsed.ok && entry !== undefined) problems.push(`${labelOf(entry, 'join')}: ${quote(join)} is not a valid address (${parsed.problem})`);
  }
  return problems;
}

function checkRule(rule: FieldRule, candidate: Record<string, unknown>, layers: Layers, badKeys: Set<string>): string[] {
  const value = candidate[rule.key];
  const other = candidate[rule.other];
  if (typeof value !== 'number' || typeof other !== 'number' || badKeys.has(rule.key) || badKeys.has(rule.other)) return [];
  const limit = rule.factor * other;
  if (rule.isStrict ? value > limit : value >= limit) return [];
  const times = rule.factor === 1 ? '' : `${rule.factor} × `;
  const relation = rule.isStrict ? 'greater than' : 'at least';
  const sourceOf = (key: string): string => layers.get(key)?.source ?? 'default';
  return [
    `${rule.key} must be ${relation} ${times}${rule.other}, but ${value} (${sourceOf(rule.key)}) ` +
      `${rule.isStrict ? '<=' : '<'} ${times}${other} (${sourceOf(rule.other)})`,
  ];
}

function freezeConfig(candidate: Record<string, unknown>): Readonly<Record<string, unknown>> {
  const dataDir = candidate['data_dir'];
  if (typeof dataDir === 'string') candidate['data_dir'] = expandHome(dataDir, homedir());
  for (const value of Object.values(candidate)) if (Array.isArray(value)) Object.freeze(value);
  return Object.freeze(candidate);
}

/** "~" and "~/x" mean the user's home, so one example file fits every device. */
function expandHome(path: string, home: string): string {
  if (path === '~') return home;
  return path.startsWith('~/') ? joinPath(home, path.slice(2)) : path;
}

// ---------------------------------------------------------------- join address

const HOST_TEXT = /^[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?$/;
const BRACKETED = /^\[([^\]]*)\](?::(.*))?$/;

function splitJoinAddress(value: string): Result<{ host: string; port: number }> {
  if (value.includes('://')) return fail('give host[:port] without a scheme');
  if (value.startsWith('[')) {
    const match = BRACKETED.exec(value);
    if (match === null) return fail('write an IPv6 address as [addr] or [addr]:port');
    const host = match[1] ?? '';
    return isIPv6(host) ? withPort(host, match[2]) : fail(`${quote(host)} is not an IPv6 address`);
  }
  const parts = value.split(':');
  if (parts.length > 2) return fail('an IPv6 address must be in brackets, e.g. [::1]:8080');
  const host = parts[0] ?? '';
  if (!HOST_TEXT.test(host)) return fail(`host ${quote(host)} is not a host name or IPv4 address`);
  return withPort(host, parts[1]);
}

function withPort(host: string, portText: string | undefined): Result<{ host: string; port: number }> {
  if (portText === undefined) return ok({ host, port: DEFAULT_JOIN_PORT });
  if (!/^\d{1,5}$/.test(portText)) return fail(`port ${quote(portText)} is not an integer`);
  const port = Number(portText);
  return port >= 1 && port <= 65535 ? ok({ host, port }) : fail(`port ${port} must be 1..65535`);
}

// ---------------------------------------------------------------- helpers

function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

function fail<T>(problem: string): Result<T> {
  return { ok: false, problem };
}

function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Token values never reach an error message (or the log line that prints it). */
function show(key: string, value: unknown): string {
  if (SECRET_KEYS.has(key) && typeof value === 'string') return `<secret of ${value.length} chars>`;
  return quote(value);
}

function decodePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

function suggest(unknownKey: string, knownKeys: readonly string[]): string {
  const close = knownKeys.find((key) => key !== unknownKey && editDistance(key, unknownKey) <= 2);
  return close === undefined ? '' : ` (did you mean "${close}"?)`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_unused, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
