import { EventEmitter } from 'node:events';

/** One parsed pino line as the log stream carries it. */
export interface LogEntry {
  /** pino numeric level: 10 trace … 60 fatal */
  level: number;
  time: number;
  msg: string;
  /**
   * The line as one JSON object text, no newline: what pino wrote, or for a
   * line that was not a JSON object, `{"level":30,"time":…,"msg":<the text>}`.
   */
  line: string;
}

/** Entries kept for /text/logs. */
export const LOG_FEED_CAPACITY = 2000;

const LEVEL_NUMBERS: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const DEFAULT_LEVEL = 30;

/**
 * The master's own log lines, for /stream/logs and /text/logs. The CLI tees
 * pino's output into `write()`; this keeps a bounded ring of recent lines
 * and emits 'entry' for each. `write` never throws: a log sink that throws
 * would take the logger, and with it the master, down.
 */
export class LogFeed extends EventEmitter<{ entry: [LogEntry] }> {
  readonly capacity: number;
  readonly #ring: Array<LogEntry | undefined>;
  #next = 0;
  #size = 0;

  constructor(capacity = LOG_FEED_CAPACITY) {
    super();
    this.capacity = Math.max(1, Math.trunc(capacity));
    this.#ring = new Array<LogEntry | undefined>(this.capacity);
  }

  /** A pino destination: one JSON line per call (a trailing newline, or several lines, are fine too). */
  write(chunk: string): void {
    for (const text of String(chunk).split('\n')) {
      const trimmed = text.endsWith('\r') ? text.slice(0, -1) : text;
      if (trimmed.trim() !== '') this.#add(parseLine(trimmed));
    }
  }

  /** The newest `limit` entries at `minLevel` or above, oldest first. */
  recent(limit: number, minLevel = 0): LogEntry[] {
    const out: LogEntry[] = [];
    for (let i = 1; i <= this.#size && out.length < limit; i++) {
      const entry = this.#ring[(this.#next - i + this.capacity) % this.capacity]!;
      if (entry.level >= minLevel) out.push(entry);
    }
    return out.reverse();
  }

  #add(entry: LogEntry): void {
    this.#ring[this.#next] = entry;
    this.#next = (this.#next + 1) % this.capacity;
    this.#size = Math.min(this.#size + 1, this.capacity);
    try {
      this.emit('entry', entry);
    } catch {
      // A failing 'entry' listener must not break logging; the line is in the ring.
    }
  }
}

function parseLine(text: string): LogEntry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return plainLine(text);
  const fields = parsed as Record<string, unknown>;
  return {
    level: toLevel(fields['level']),
    time: typeof fields['time'] === 'number' ? fields['time'] : Date.now(),
    msg: typeof fields['msg'] === 'string' ? fields['msg'] : '',
    // JSON may hold CR between tokens; SSE data must be one line.
    line: text.includes('\r') ? JSON.stringify(fields) : text,
  };
}

function plainLine(text: string): LogEntry {
  const time = Date.now();
  return { level: DEFAULT_LEVEL, time, msg: text, line: JSON.stringify({ level: DEFAULT_LEVEL, time, msg: text }) };
}

function toLevel(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') return LEVEL_NUMBERS[v] ?? DEFAULT_LEVEL;
  return DEFAULT_LEVEL;
}
