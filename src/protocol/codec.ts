import { randomUUID } from 'node:crypto';
import { ProtocolError, type RcError } from '../common/errors.js';
import { isoTime } from '../common/iso-time.js';
import { formatViolations, validateMessage } from './schemas.js';
import { isMessageType, type Envelope, type MessageType, type ErrorData } from './types.js';

export type Decoded =
  | { ok: true; message: Envelope }
  | { ok: false; error: ProtocolError; messageId: string | null };

/** Decode one line: JSON.parse, then envelope and schema checks (PROTOCOL §3, §5). */
export function decodeLine(line: string): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return fail('RC_ERR_PROTO_INVALID_JSON', `frame is not valid JSON: ${reason}`, null);
  }
  return decodeValue(value);
}

/** Checks an already-parsed frame; nothing past here sees unvalidated data. */
export function decodeValue(value: unknown): Decoded {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail('RC_ERR_PROTO_INVALID_ENVELOPE', 'frame must be a JSON object', null);
  }
  const frame = value as Record<string, unknown>;
  const messageId = typeof frame['message_id'] === 'string' ? frame['message_id'] : null;
  const type = frame['message_type'];
  if (typeof type !== 'string') {
    return fail('RC_ERR_PROTO_INVALID_ENVELOPE', 'message_type must be a string', messageId);
  }
  if (!isMessageType(type)) {
    return fail('RC_ERR_PROTO_UNKNOWN_TYPE', `unknown message_type "${type.slice(0, 64)}"`, messageId);
  }
  const violations = validateMessage(type, frame);
  if (violations.length === 0) return { ok: true, message: frame as unknown as Envelope };
  const inEnvelope = violations.some((v) => !v.path.startsWith('/data'));
  const summary = formatViolations(violations);
  return fail(
    inEnvelope ? 'RC_ERR_PROTO_INVALID_ENVELOPE' : 'RC_ERR_PROTO_SCHEMA',
    `${type} frame is invalid: ${summary}`,
    messageId,
    violations,
  );
}

function fail(code: ProtocolError['code'], message: string, messageId: string | null, details?: unknown): Decoded {
  return { ok: false, error: new ProtocolError(code, message, { details }), messageId };
}

/** One wire line, newline included. */
export function encodeMessage(message: Envelope<MessageType, object>): string {
  return `${JSON.stringify(message)}\n`;
}

export interface Addressing {
  sender: string;
  receiver?: string | null;
}

export function createMessage<T extends MessageType, D extends object>(
  type: T,
  data: D,
  addr: Addressing,
): Envelope<T, D> {
  return {
    message_type: type,
    sender_id: addr.sender,
    receiver_id: addr.receiver ?? null,
    message_id: randomUUID(),
    timestamp: isoNow(),
    data,
  };
}

let lastMs = Number.NaN;
let lastIso = '';

/** The current time as ISO 8601, formatted once per millisecond: a busy master stamps tens of thousands of frames a second. */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = isoTime(ms);
  }
  return lastIso;
}

/** Reply to `request` with `result` (PROTOCOL §5.3: replies carry original_message_id). */
export function createAck(
  request: Pick<Envelope, 'message_id' | 'sender_id'>,
  result: Record<string, unknown>,
  sender: string,
): Envelope<'ack'> {
  return createMessage(
    'ack',
    { original_message_id: request.message_id, result: { success: true, ...result } },
    { sender, receiver: request.sender_id },
  );
}

export function createErrorFrame(
  err: Pick<RcError, 'code' | 'message' | 'details'>,
  original: { messageId: string | null; receiver?: string | null },
  sender: string,
): Envelope<'error', ErrorData> {
  const data: ErrorData = {
    original_message_id: original.messageId,
    code: err.code,
    message: err.message,
    error: err.message,
  };
  if (err.details !== undefined) data.details = err.details;
  return createMessage('error', data, { sender, receiver: original.receiver ?? null });
}
