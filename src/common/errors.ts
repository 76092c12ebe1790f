/**
 * One error class for the whole project. Every failure that crosses a
 * boundary (wire, HTTP, CLI) carries a stable `RC_ERR_<AREA>_<WHAT>` code;
 * PROTOCOL.md §9 lists them and a unit test keeps the two in step.
 */
export const ERROR_CODES = {
  RC_ERR_PROTO_LINE_TOO_LONG: 'A frame exceeded the line limit; the connection is closed.',
  RC_ERR_PROTO_INVALID_JSON: 'A frame was not valid UTF-8 JSON.',
  RC_ERR_PROTO_INVALID_ENVELOPE: 'The envelope is not an object or misses/mistypes an envelope field.',
  RC_ERR_PROTO_UNKNOWN_TYPE: 'message_type is not one this peer knows.',
  RC_ERR_PROTO_SCHEMA: 'The data of a known message type breaks its JSON Schema.',
  RC_ERR_PROTO_UNEXPECTED: 'The message type is valid but not accepted in this direction or state.',
  RC_ERR_PROTO_VERSION: 'The peer speaks a protocol major version this peer does not support.',
  RC_ERR_DEVICE_UNKNOWN: 'The sender is not a registered device; register first.',
  RC_ERR_DEVICE_ID_MISMATCH: 'A connection tried to speak for a device id other than the one it registered.',
  RC_ERR_NOT_FOUND: 'The requested device or resource does not exist.',
  RC_ERR_INTERNAL: 'The peer failed while handling a valid message; it stays up.',
  RC_ERR_STORE: 'The store could not read or write; nothing acknowledged was lost.',
  RC_ERR_STORE_CORRUPT: 'The database file failed its integrity check at startup; restore a backup.',
  RC_ERR_CONFIG: 'A configuration value (file, environment or flag) is invalid.',
  RC_ERR_HTTP_BAD_REQUEST: 'An HTTP request is malformed or has invalid parameters.',
  RC_ERR_TASK_INVALID: 'A submitted task has a missing, unknown or mistyped field.',
  RC_ERR_TASK_UNKNOWN_TYPE: 'No built-in task type and no registered device offers this task_type.',
  RC_ERR_TASK_PAYLOAD: 'The payload does not fit the task type\'s payload schema.',
  RC_ERR_TASK_REQUIREMENTS: 'The requirements have an unknown key or a value of the wrong type.',
  RC_ERR_TASK_FINAL: 'The task already reached a final state; it cannot be changed.',
  RC_ERR_AUTH_REQUIRED: 'The request needs credentials (an API token) and carried none.',
  RC_ERR_AUTH_INVALID: 'The credentials presented are wrong.',
  RC_ERR_AUTH_EXPIRED: 'The register proof is older or newer than the ±5 minute window.',
  RC_ERR_AUTH_REPLAY: 'The register proof was already used once (replayed nonce).',
  RC_ERR_AUTH_REVOKED: 'The device has been revoked and may not connect.',
  RC_ERR_LIMIT_CONNECTIONS: 'Too many connections (in total, or unregistered ones from this IP); the connection is closed.',
  RC_ERR_LIMIT_PENDING_WRITES: 'The peer stopped reading and its unsent replies passed the limit; it was dropped.',
  RC_ERR_LIMIT_RATE: 'The peer sent messages faster than its rate limit; the connection is closed.',
  RC_ERR_LIMIT_REGISTER_TIMEOUT: 'The connection neither registered nor sent a valid query in time; it is closed.',
  RC_ERR_TASK_WORKER_CLOSING: 'The worker is shutting down and takes no new tasks.',
  RC_ERR_TASK_WORKER_PAUSED: 'The worker is paused by its power or thermal policy and takes no new tasks.',
  RC_ERR_SHUTTING_DOWN: 'The master is shutting down and accepts no new work; retry when it is back.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface RcErrorOptions {
  /** HTTP status to answer with when this error reaches the HTTP boundary. */
  status?: number;
  cause?: unknown;
  /** Structured detail safe to show a client (e.g. schema violations). */
  details?: unknown;
}

export class RcError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, opts: RcErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RcError';
    this.code = code;
    this.status = opts.status ?? 500;
    this.details = opts.details;
  }
}

/** Wire-level failures: the frame is bad, not the peer (except LINE_TOO_LONG). */
export class ProtocolError extends RcError {
  constructor(code: ErrorCode, message: string, opts: RcErrorOptions = {}) {
    super(code, message, { status: 400, ...opts });
    this.name = 'ProtocolError';
  }
}

export class ConfigError extends RcError {
  /** Every violation found, one line each, so a user fixes them all at once. */
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('RC_ERR_CONFIG', `invalid configuration:\n  - ${problems.join('\n  - ')}`, { status: 400 });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export class StoreError extends RcError {
  constructor(message: string, cause?: unknown) {
    super('RC_ERR_STORE', message, { status: 503, cause });
    this.name = 'StoreError';
  }
}

/** HTTP writes and new connections while the master stops (answered 503, retryable). */
export function shuttingDown(): RcError {
  return new RcError('RC_ERR_SHUTTING_DOWN', 'the master is shutting down; retry when it is back', { status: 503 });
}

export function isRcError(err: unknown): err is RcError {
  return err instanceof RcError;
}
