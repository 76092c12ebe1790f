/**
 * The text/event-stream wire format (HTML Living Standard §9.2): pure
 * functions, no I/O. Data is always one JSON text on one `data:` line;
 * JSON.stringify escapes CR and LF inside strings, and U+2028/U+2029 are not
 * line ends in SSE, so a value can never split an event or forge a field.
 */

const EVENT_NAME = /^[a-z][a-z0-9_]*$/;

/** One event: `id`, `event`, and `data` as the JSON serialisation of a value. */
export function formatEvent(id: number, event: string, data: unknown): string {
  return formatJsonEvent(id, event, JSON.stringify(data) ?? 'null');
}

/**
 * One event whose data is JSON text that is already serialised (a pino line,
 * say). JSON may legally hold CR/LF between tokens; such text is re-encoded
 * so it still fits on one line.
 */
export function formatJsonEvent(id: number | null, event: string, json: string): string {
  const idLine = id === null ? '' : `id: ${formatId(id)}\n`;
  return `${idLine}event: ${checkEventName(event)}\ndata: ${oneLine(json)}\n\n`;
}

/** A comment line (e.g. keep-alive): clients ignore it, proxies see traffic. */
export function formatComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/** How long the client waits before reconnecting (sent first on every stream). */
export function formatRetry(ms: number): string {
  return `retry: ${Math.max(0, Math.trunc(ms))}\n\n`;
}

function oneLine(json: string): string {
  if (!/[\r\n]/.test(json)) return json;
  try {
    return JSON.stringify(JSON.parse(json));
  } catch {
    return JSON.stringify(json);
  }
}

function formatId(id: number): string {
  if (!Number.isSafeInteger(id) || id < 0) throw new RangeError(`SSE id must be a non-negative integer, got ${id}`);
  return String(id);
}

function checkEventName(event: string): string {
  if (!EVENT_NAME.test(event)) throw new RangeError(`invalid SSE event name ${JSON.stringify(event)}`);
  return event;
}
