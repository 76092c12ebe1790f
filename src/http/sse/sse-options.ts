import { RcError } from '../../common/errors.js';

/** Limits of the SSE streams. Every default carries its unit in its name. */
export interface SseOptions {
  /** Events kept per stream (/stream/logs, /stream/tasks, /stream/devices) for resume. */
  ringSize: number;
  /** Events kept per task for /stream/tasks?task_id=. */
  taskRingSize: number;
  /** Task rings kept at once. */
  maxTaskStreams: number;
  /** Characters (≈ bytes) all task rings hold together. */
  taskRingsMaxChars: number;
  /** A finished task's ring is kept this long. */
  keepEndedTaskMs: number;
  /** Pending bytes per client before it is dropped. */
  clientMaxQueueBytes: number;
  /** Pending events per client before it is dropped. */
  clientMaxQueueEvents: number;
  keepAliveMs: number;
  /** A client that does not take its last bytes (after end or drop) is cut off after this. */
  lingerMs: number;
  /** Sent as `retry:`. */
  retryMs: number;
  /** Devices listed in one `heartbeats` summary. */
  heartbeatsMaxDevices: number;
}

export const DEFAULT_SSE_OPTIONS: Readonly<SseOptions> = Object.freeze({
  ringSize: 1000,
  taskRingSize: 1000,
  maxTaskStreams: 1000,
  taskRingsMaxChars: 64 * 1024 * 1024,
  keepEndedTaskMs: 60_000,
  clientMaxQueueBytes: 1024 * 1024,
  // Twice the ring: replaying a full ring to a slow link never counts as falling behind.
  clientMaxQueueEvents: 2000,
  keepAliveMs: 15_000,
  lingerMs: 5_000,
  retryMs: 2_000,
  heartbeatsMaxDevices: 500,
});

/** Test and tuning hooks: `RC_SSE_*` environment variables override the defaults. */
const ENV_KEYS: Readonly<Partial<Record<keyof SseOptions, string>>> = {
  ringSize: 'RC_SSE_RING_SIZE',
  taskRingSize: 'RC_SSE_TASK_RING_SIZE',
  clientMaxQueueBytes: 'RC_SSE_CLIENT_MAX_BYTES',
  keepAliveMs: 'RC_SSE_KEEPALIVE_MS',
};

/** The defaults with `RC_SSE_*` overrides; a bad value stops startup with RC_ERR_CONFIG. */
export function sseOptionsFromEnv(env: Record<string, string | undefined>): SseOptions {
  const out: SseOptions = { ...DEFAULT_SSE_OPTIONS };
  for (const [key, name] of Object.entries(ENV_KEYS) as Array<[keyof SseOptions, string]>) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RcError('RC_ERR_CONFIG', `env ${name}: must be a positive integer, got ${JSON.stringify(text)}`, { status: 500 });
    }
    out[key] = value;
  }
  out.clientMaxQueueEvents = Math.max(out.clientMaxQueueEvents, 2 * out.ringSize, 2 * out.taskRingSize);
  return out;
}
