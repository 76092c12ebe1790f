import { EventEmitter } from 'node:events';

/** One parsed pino line as the log stream carries it. */
export interface LogEntry {
  /** pino numeric level: 10 trace … 60 fatal */
  level: number;
  time: number;
  msg: string;
  /** The whole line as pino wrote it (JSON text, no newline). */
  line: string;
}

/**
 * The master's own log lines, for /stream/logs and /text/logs. The CLI tees
 * pino's output into `write()`; this keeps a bounded ring of recent lines
 * and emits 'entry' for each. STUB: filled in by the SSE work (issue #4).
 */
export class LogFeed extends EventEmitter<{ entry: [LogEntry] }> {
  /** A pino destination: one JSON line per call. */
  write(_chunk: string): void {}

  recent(_limit: number, _minLevel?: number): LogEntry[] {
    return [];
  }
}
