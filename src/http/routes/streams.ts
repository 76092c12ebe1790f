import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RcError } from '../../common/errors.js';
import type { LogEntry } from '../../master/log-feed.js';
import { CONTENT_TYPES, negotiateFormat, renderTable, type Column } from '../render/table.js';
import type { HttpDeps } from '../server.js';
import type { SseSink } from '../sse/sse-connection.js';
import { sseOptionsFromEnv, type SseOptions } from '../sse/sse-options.js';
import { StreamHub } from '../sse/stream-hub.js';
import { LOG_LEVELS, levelName, parseLevel } from '../sse/views.js';

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  // nginx and friends must not buffer a stream.
  'x-accel-buffering': 'no',
} as const;

const DEFAULT_INTERVAL_S = 5;
const MAX_INTERVAL_S = 60;
const DEFAULT_TEXT_LIMIT = 100;
const MAX_TEXT_LIMIT = 1000;

interface StreamQuery {
  level?: string;
  task_id?: string;
  interval?: string;
  last_event_id?: string;
  limit?: string;
  format?: string;
}

type Req = FastifyRequest<{ Querystring: StreamQuery }>;

/**
 * /stream/logs, /stream/tasks, /stream/devices (SSE) and /text/logs. The
 * returned `close()` ends every open stream (the server calls it on preClose).
 */
export function registerStreamRoutes(app: FastifyInstance, deps: HttpDeps, options: SseOptions = sseOptionsFromEnv(process.env)): { close(): void } {
  const hub = new StreamHub({
    registry: deps.registry,
    tasks: deps.tasks,
    logs: deps.logs,
    metrics: deps.metrics,
    log: deps.log.child({ component: 'sse' }),
    options,
  });
  app.get('/stream/logs', async (req: Req, reply) => {
    const minLevel = parseLevelQuery(req.query.level);
    const afterId = parseLastEventId(req);
    startStream(reply, (sink) => hub.openLogs(sink, afterId, minLevel));
  });
  app.get('/stream/tasks', async (req: Req, reply) => {
    const afterId = parseLastEventId(req);
    const taskId = req.query.task_id;
    if (taskId === undefined) return startStream(reply, (sink) => hub.openTasks(sink, afterId));
    const task = deps.tasks.get(taskId);
    if (!task) throw new RcError('RC_ERR_NOT_FOUND', `no task with id ${taskId}`, { status: 404 });
    startStream(reply, (sink) => hub.openTask(sink, task, afterId));
  });
  app.get('/stream/devices', async (req: Req, reply) => {
    const intervalS = parseIntParam('interval', req.query.interval, DEFAULT_INTERVAL_S, 1, MAX_INTERVAL_S);
    const afterId = parseLastEventId(req);
    startStream(reply, (sink) => hub.openDevices(sink, afterId, intervalS));
  });
  app.get('/text/logs', async (req: Req, reply) => {
    const format = negotiateFormat(req.query.format, req.headers.accept);
    if (format === null) throw badRequest('format must be one of text, json, csv, tsv');
    const minLevel = parseLevelQuery(req.query.level);
    const limit = parseIntParam('limit', req.query.limit, DEFAULT_TEXT_LIMIT, 1, MAX_TEXT_LIMIT);
    const rows = deps.logs.recent(limit, minLevel).map(toLogRow);
    return reply.type(CONTENT_TYPES[format]).send(renderTable(LOG_COLUMNS, rows, format));
  });
  return { close: () => hub.close() };
}

/** Take the response over from fastify and start an event stream on it. */
function startStream(reply: FastifyReply, open: (sink: SseSink) => void): void {
  reply.hijack();
  reply.raw.writeHead(200, SSE_HEADERS);
  open(reply.raw);
}

/** `Last-Event-ID` (what EventSource sends on reconnect) wins over `?last_event_id=`. */
function parseLastEventId(req: Req): number | null {
  const header = req.headers['last-event-id'];
  const text = (Array.isArray(header) ? header[0] : header) ?? req.query.last_event_id;
  if (text === undefined || text.trim() === '') return null;
  const id = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(id)) throw badRequest(`Last-Event-ID must be a non-negative integer, got ${JSON.stringify(text)}`);
  return id;
}

function parseLevelQuery(text: string | undefined): number {
  if (text === undefined) return LOG_LEVELS.info;
  const level = parseLevel(text.toLowerCase());
  if (level === null) throw badRequest(`level must be one of ${Object.keys(LOG_LEVELS).join(', ')}`);
  return level;
}

function parseIntParam(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw badRequest(`${name} must be an integer from ${min} to ${max}`);
  return n;
}

function badRequest(message: string): RcError {
  return new RcError('RC_ERR_HTTP_BAD_REQUEST', message, { status: 400 });
}

// ------------------------------------------------------------ /text/logs

interface LogRow {
  entry: LogEntry;
  fields: Record<string, unknown>;
}

/** Shown in their own columns or not worth a column on every line. */
const HIDDEN_FIELDS = new Set(['level', 'time', 'msg', 'component', 'pid', 'hostname', 'name', 'v']);
const MAX_FIELD_CHARS = 200;

const LOG_COLUMNS: readonly Column<LogRow>[] = [
  { header: 'TIME', key: 'time', value: (r) => new Date(r.entry.time).toISOString() },
  { header: 'LEVEL', key: 'level', value: (r) => levelName(r.entry.level) },
  { header: 'COMPONENT', key: 'component', value: (r) => (typeof r.fields['component'] === 'string' ? r.fields['component'] : null) },
  { header: 'MSG', key: 'msg', value: (r) => r.entry.msg },
  { header: 'FIELDS', key: 'fields', value: (r) => compactFields(r.fields) },
];

function toLogRow(entry: LogEntry): LogRow {
  try {
    const parsed: unknown = JSON.parse(entry.line);
    return { entry, fields: typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {} };
  } catch {
    return { entry, fields: {} };
  }
}

/** `key=value key2="two words" err="message"`, each value cut at MAX_FIELD_CHARS. */
function compactFields(fields: Record<string, unknown>): string | null {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (!HIDDEN_FIELDS.has(key)) parts.push(`${key}=${compactValue(value)}`);
  }
  return parts.length === 0 ? null : parts.join(' ');
}

function compactValue(value: unknown): string {
  const errMessage = (value as { message?: unknown } | null)?.message;
  const shown = typeof value === 'object' && value !== null && typeof errMessage === 'string' ? errMessage : value;
  const text = typeof shown === 'string' ? (/^[^\s"=]+$/.test(shown) ? shown : JSON.stringify(shown)) : (JSON.stringify(shown) ?? String(shown));
  return text.length > MAX_FIELD_CHARS ? `${text.slice(0, MAX_FIELD_CHARS - 1)}…` : text;
}
