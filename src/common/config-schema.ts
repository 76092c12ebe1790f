/**
 * The shape of master and worker configuration: TypeScript types, the JSON
 * Schemas that validate a merged config, and where each setting may come
 * from (flag, environment variable). `config.ts` does the layering; this
 * file only describes. Keep `config/README.md` and the example files in step
 * (test/unit/config.test.ts checks both).
 */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface MasterConfig {
  host: string;
  port: number;
  http_host: string;
  http_port: number;
  data_dir: string;
  log_level: LogLevel;
  heartbeat_interval_s: number;
  offline_after_s: number;
  lost_after_s: number;
  store_max_size_mb: number | null;
  flap_window_s: number;
  flap_threshold: number;
  heartbeat_retention_s: number;
  max_line_bytes: number;
  join_token: string | null;
  api_token: string | null;
  insecure: boolean;
  lease_s: number;
  task_timeout_grace_s: number;
  aging_step_s: number;
  retry_base_s: number;
  retry_max_s: number;
  max_connections: number;
  max_pending_per_ip: number;
  register_timeout_s: number;
  max_msgs_per_s: number;
  max_msgs_per_s_unregistered: number;
  tls_cert: string | null;
  tls_key: string | null;
  http_auth_reads: boolean;
  http_writes_per_min: number;
  http_body_limit_bytes: number;
  max_pending_write_bytes: number;
}

export interface WorkerConfig {
  join: string | null;
  device_id: string | null;
  data_dir: string;
  role: string;
  tags: string[];
  max_tasks: number;
  log_level: LogLevel;
  token: string | null;
  backoff_base_s: number;
  backoff_max_s: number;
  max_line_bytes: number;
  allow: string[];
  plugins: string | null;
  output_cap_bytes: number;
  tls: boolean;
  tls_fingerprint: string | null;
  shutdown_grace_s: number;
  pause_battery_below_pct: number;
  resume_battery_above_pct: number;
  only_when_charging: boolean;
  pause_temp_above_c: number;
  resume_temp_delta_c: number;
  power_check_s: number;
}

/** Where a setting may come from besides the config file. `flag` is the kebab-case long option without `--`. */
export interface SettingSource {
  readonly flag?: string;
  readonly env: string;
}

export const MASTER_SOURCES: Readonly<Record<keyof MasterConfig, SettingSource>> = {
  host: { flag: 'host', env: 'RC_HOST' },
  port: { flag: 'port', env: 'RC_PORT' },
  http_host: { flag: 'http-host', env: 'RC_HTTP_HOST' },
  http_port: { flag: 'http-port', env: 'RC_HTTP_PORT' },
  data_dir: { flag: 'data-dir', env: 'RC_DATA_DIR' },
  log_level: { flag: 'log-level', env: 'RC_LOG_LEVEL' },
  heartbeat_interval_s: { flag: 'heartbeat-interval', env: 'RC_HEARTBEAT_INTERVAL' },
  offline_after_s: { flag: 'offline-after', env: 'RC_OFFLINE_AFTER' },
  lost_after_s: { flag: 'lost-after', env: 'RC_LOST_AFTER' },
  store_max_size_mb: { flag: 'store-max-size', env: 'RC_STORE_MAX_SIZE' },
  flap_window_s: { env: 'RC_FLAP_WINDOW' },
  flap_threshold: { env: 'RC_FLAP_THRESHOLD' },
  heartbeat_retention_s: { env: 'RC_HEARTBEAT_RETENTION' },
  max_line_bytes: { flag: 'max-line-bytes', env: 'RC_MAX_LINE_BYTES' },
  join_token: { flag: 'join-token', env: 'RC_JOIN_TOKEN' },
  api_token: { flag: 'api-token', env: 'RC_API_TOKEN' },
  insecure: { flag: 'insecure', env: 'RC_INSECURE' },
  lease_s: { flag: 'lease', env: 'RC_LEASE' },
  task_timeout_grace_s: { env: 'RC_TASK_TIMEOUT_GRACE' },
  aging_step_s: { flag: 'aging-step', env: 'RC_AGING_STEP' },
  retry_base_s: { env: 'RC_RETRY_BASE' },
  retry_max_s: { env: 'RC_RETRY_MAX' },
  max_connections: { flag: 'max-connections', env: 'RC_MAX_CONNECTIONS' },
  max_pending_per_ip: { env: 'RC_MAX_PENDING_PER_IP' },
  register_timeout_s: { env: 'RC_REGISTER_TIMEOUT' },
  max_msgs_per_s: { env: 'RC_MAX_MSGS_PER_S' },
  max_msgs_per_s_unregistered: { env: 'RC_MAX_MSGS_PER_S_UNREGISTERED' },
  tls_cert: { flag: 'tls-cert', env: 'RC_TLS_CERT' },
  tls_key: { flag: 'tls-key', env: 'RC_TLS_KEY' },
  http_auth_reads: { flag: 'auth-reads', env: 'RC_AUTH_READS' },
  http_writes_per_min: { env: 'RC_HTTP_WRITES_PER_MIN' },
  http_body_limit_bytes: { env: 'RC_HTTP_BODY_LIMIT' },
  max_pending_write_bytes: { env: 'RC_MAX_PENDING_WRITE_BYTES' },
};

export const WORKER_SOURCES: Readonly<Record<keyof WorkerConfig, SettingSource>> = {
  join: { flag: 'join', env: 'RC_JOIN' },
  device_id: { flag: 'device-id', env: 'RC_DEVICE_ID' },
  data_dir: { flag: 'data-dir', env: 'RC_DATA_DIR' },
  role: { flag: 'role', env: 'RC_ROLE' },
  tags: { flag: 'tags', env: 'RC_TAGS' },
  max_tasks: { flag: 'max-tasks', env: 'RC_MAX_TASKS' },
  log_level: { flag: 'log-level', env: 'RC_LOG_LEVEL' },
  // The worker presents the master's join token, so both read one variable.
  token: { flag: 'token', env: 'RC_JOIN_TOKEN' },
  backoff_base_s: { flag: 'backoff-base', env: 'RC_BACKOFF_BASE' },
  backoff_max_s: { flag: 'backoff-max', env: 'RC_BACKOFF_MAX' },
  max_line_bytes: { flag: 'max-line-bytes', env: 'RC_MAX_LINE_BYTES' },
  allow: { flag: 'allow', env: 'RC_ALLOW' },
  plugins: { flag: 'plugins', env: 'RC_PLUGINS' },
  output_cap_bytes: { env: 'RC_OUTPUT_CAP' },
  tls: { flag: 'tls', env: 'RC_TLS' },
  tls_fingerprint: { flag: 'tls-fingerprint', env: 'RC_TLS_FINGERPRINT' },
  shutdown_grace_s: { flag: 'shutdown-grace', env: 'RC_SHUTDOWN_GRACE' },
  pause_battery_below_pct: { flag: 'pause-battery-below', env: 'RC_PAUSE_BATTERY_BELOW' },
  resume_battery_above_pct: { flag: 'resume-battery-above', env: 'RC_RESUME_BATTERY_ABOVE' },
  only_when_charging: { flag: 'only-when-charging', env: 'RC_ONLY_WHEN_CHARGING' },
  pause_temp_above_c: { flag: 'pause-temp-above', env: 'RC_PAUSE_TEMP_ABOVE' },
  resume_temp_delta_c: { env: 'RC_RESUME_TEMP_DELTA' },
  power_check_s: { flag: 'power-check', env: 'RC_POWER_CHECK' },
};

/** The JSON Schema subset used here; `Record<keyof T, …>` keeps schema keys and the interface in step. */
export interface PropertySchema {
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'array';
  readonly nullable?: true;
  readonly [keyword: string]: unknown;
}

export interface ConfigSchema<T> {
  readonly type: 'object';
  readonly additionalProperties: false;
  readonly required: readonly (keyof T & string)[];
  readonly properties: Readonly<Record<keyof T, PropertySchema>>;
}

/** Settings whose values never appear in error messages. */
export const SECRET_KEYS: ReadonlySet<string> = new Set(['join_token', 'api_token', 'token']);

const PORT = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,31}$';
const LOG_LEVEL = { type: 'string', enum: LOG_LEVELS } as const;
const MAX_LINE_BYTES = { type: 'integer', minimum: 1024, maximum: 67_108_864 } as const;
// A token shorter than this is guessable; the master refuses it, so the worker does too.
const TOKEN = { type: 'string', nullable: true, minLength: 8 } as const;

export const MASTER_SCHEMA: ConfigSchema<MasterConfig> = {
  type: 'object',
  additionalProperties: false,
  required: Object.keys(MASTER_SOURCES) as (keyof MasterConfig)[],
  properties: {
    host: { type: 'string', minLength: 1 },
    port: PORT,
    http_host: { type: 'string', minLength: 1 },
    http_port: PORT,
    data_dir: { type: 'string', minLength: 1 },
    log_level: LOG_LEVEL,
    heartbeat_interval_s: { type: 'number', minimum: 0.2, maximum: 3600 },
    offline_after_s: { type: 'number', exclusiveMinimum: 0 },
    lost_after_s: { type: 'number', exclusiveMinimum: 0 },
    store_max_size_mb: { type: 'number', nullable: true, minimum: 1 },
    flap_window_s: { type: 'number', minimum: 1, maximum: 604_800 },
    flap_threshold: { type: 'integer', minimum: 1, maximum: 1000 },
    heartbeat_retention_s: { type: 'integer', minimum: 60 },
    max_line_bytes: MAX_LINE_BYTES,
    join_token: TOKEN,
    api_token: TOKEN,
    insecure: { type: 'boolean' },
    lease_s: { type: 'number', minimum: 1, maximum: 86_400 },
    task_timeout_grace_s: { type: 'number', minimum: 0, maximum: 3600 },
    aging_step_s: { type: 'number', minimum: 0, maximum: 604_800 },
    retry_base_s: { type: 'number', minimum: 0, maximum: 3600 },
    retry_max_s: { type: 'number', minimum: 0, maximum: 86_400 },
    max_connections: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    max_pending_per_ip: { type: 'integer', minimum: 1, maximum: 100_000 },
    register_timeout_s: { type: 'number', minimum: 0.1, maximum: 3600 },
    max_msgs_per_s: { type: 'integer', minimum: 1, maximum: 10_000_000 },
    max_msgs_per_s_unregistered: { type: 'integer', minimum: 1, maximum: 10_000_000 },
    tls_cert: { type: 'string', nullable: true, minLength: 1 },
    tls_key: { type: 'string', nullable: true, minLength: 1 },
    http_auth_reads: { type: 'boolean' },
    http_writes_per_min: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    http_body_limit_bytes: { type: 'integer', minimum: 1024, maximum: 1_073_741_824 },
    max_pending_write_bytes: { type: 'integer', minimum: 65_536, maximum: 1_073_741_824 },
  },
};

export const WORKER_SCHEMA: ConfigSchema<WorkerConfig> = {
  type: 'object',
  additionalProperties: false,
  required: Object.keys(WORKER_SOURCES) as (keyof WorkerConfig)[],
  properties: {
    join: { type: 'string', nullable: true, minLength: 1 },
    device_id: { type: 'string', nullable: true, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' },
    data_dir: { type: 'string', minLength: 1 },
    role: { type: 'string', pattern: NAME_PATTERN },
    tags: { type: 'array', items: { type: 'string', pattern: NAME_PATTERN }, maxItems: 32, uniqueItems: true },
    max_tasks: { type: 'integer', minimum: 1, maximum: 256 },
    log_level: LOG_LEVEL,
    token: TOKEN,
    backoff_base_s: { type: 'number', minimum: 0.01 },
    backoff_max_s: { type: 'number', minimum: 0.01 },
    max_line_bytes: MAX_LINE_BYTES,
    // Opt-in task types that are off by default: the ones that run programs.
    allow: { type: 'array', items: { type: 'string', enum: ['exec', 'shell'] }, uniqueItems: true },
    plugins: { type: 'string', nullable: true, minLength: 1 },
    output_cap_bytes: { type: 'integer', minimum: 1024, maximum: 67_108_864 },
    tls: { type: 'boolean' },
    // SHA-256 of the master's certificate, hex, colons optional (as rc-master prints it).
    tls_fingerprint: { type: 'string', nullable: true, pattern: '^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$' },
    shutdown_grace_s: { type: 'number', minimum: 0, maximum: 86_400 },
    pause_battery_below_pct: { type: 'number', minimum: 0, maximum: 100 },
    resume_battery_above_pct: { type: 'number', minimum: 0, maximum: 100 },
    only_when_charging: { type: 'boolean' },
    pause_temp_above_c: { type: 'number', minimum: 0, maximum: 150 },
    resume_temp_delta_c: { type: 'number', minimum: 0, maximum: 50 },
    power_check_s: { type: 'number', minimum: 0.1, maximum: 3600 },
  },
};
