import type { Command } from 'commander';
import { CliExit, expectOk, type MasterClient } from './http-client.js';
import { formatLogLine, formatLogRow, isLogLevelName, LOG_LEVELS, levelNumber, type LogLevelName } from './rc-log-format.js';
import { followSse } from './rc-sse.js';
import type { SseEvent } from './rc-sse-parser.js';
import { styleFor } from './rc-style.js';
import { EXIT, onShutdownSignal } from './run-main.js';

const FINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled']);

interface LogsOptions {
  follow?: boolean;
  level?: string;
  task?: string;
  json?: boolean;
}

/** rc logs: the master's log lines or one task's output, once or followed (-f). */
export function addLogsCommand(program: Command, client: () => MasterClient): void {
  program
    .command('logs')
    .description("master log lines or a task's output; -f follows")
    .option('-f, --follow', 'keep printing as lines arrive; survives master restarts')
    .option('--level <level>', `only this level and above: ${Object.keys(LOG_LEVELS).join('|')}`)
    .option('--task <id>', "a task's output instead of the master's log; with -f, exit with the task's outcome")
    .option('--json', 'JSON, one object a line (with -f: the master\'s raw pino lines)')
    .action(async (opts: LogsOptions) => runLogs(client(), opts));
}

async function runLogs(client: MasterClient, opts: LogsOptions): Promise<void> {
  const level = parseLevel(opts.level);
  if (opts.task !== undefined) {
    await (opts.follow ? followTask(client, opts.task, opts) : printTaskOutput(client, opts.task, opts));
    return;
  }
  const print = logPrinter(level, opts.json === true);
  const query = level === null ? '' : `?level=${level}`;
  if (opts.follow) await followWithNotices(client, `/stream/logs${query}`, (event) => handleLogEvent(event, print));
  else await printRecentLogs(client, level, opts.json === true);
}

function parseLevel(level: string | undefined): LogLevelName | null {
  if (level === undefined) return null;
  if (!isLogLevelName(level)) throw new CliExit(EXIT.usage, `--level ${level}: use one of ${Object.keys(LOG_LEVELS).join(', ')}`);
  return level;
}

/** Prints one raw JSON log line: as it is with --json, formatted for people otherwise. */
function logPrinter(level: LogLevelName | null, isJson: boolean): (raw: string) => void {
  const style = styleFor(process.stdout);
  const min = level === null ? 0 : LOG_LEVELS[level];
  return (raw) => {
    const entry = parseObject(raw);
    // The master filters by ?level= too; filtering here keeps the promise if it did not.
    if (entry && levelNumber(entry['level']) < min) return;
    process.stdout.write(`${isJson || !entry ? raw : formatLogLine(entry, style)}\n`);
  };
}

function handleLogEvent(event: SseEvent, print: (raw: string) => void): boolean {
  if (event.event === 'log' || event.event === 'message') print(event.data);
  else printControl(event);
  return false;
}

/** Stream control events: `gap` (a resume lost events) and `dropped` (we read too slowly; the stream ends and we resume). */
function printControl(event: SseEvent): void {
  if (event.event === 'gap') printGap(event.data);
  if (event.event === 'dropped') process.stderr.write(`${styleFor(process.stderr).dim('rc: the master dropped this slow stream; resuming')}\n`);
}

/**
 * Recent lines from /text/logs (the master keeps the last ones in memory).
 * Its JSON rows carry `time, level, component, msg` and the other fields
 * compacted into `fields`; --json prints those rows, one per line.
 */
async function printRecentLogs(client: MasterClient, level: LogLevelName | null, isJson: boolean): Promise<void> {
  const query = new URLSearchParams({ format: 'json' });
  if (level !== null) query.set('level', level);
  const rows = expectOk(await client.get(`/text/logs?${query.toString()}`));
  if (!Array.isArray(rows)) throw new CliExit(EXIT.failed, '/text/logs did not answer a JSON array');
  const style = styleFor(process.stdout);
  for (const row of rows as Array<Record<string, unknown>>) {
    process.stdout.write(`${isJson ? JSON.stringify(row) : formatLogRow(row, style)}\n`);
  }
}

/** Follow a stream until the handler stops it; SIGINT/SIGTERM end rc cleanly with 0. */
async function followWithNotices(client: MasterClient, path: string, onEvent: (event: SseEvent) => boolean | Promise<boolean>): Promise<'stopped' | 'aborted'> {
  const controller = new AbortController();
  onShutdownSignal(async () => controller.abort());
  const err = styleFor(process.stderr);
  return followSse({
    open: (lastEventId, signal) => client.openStream(path, lastEventId, signal),
    onEvent,
    onDisconnect: ({ reason, attempt, delayMs }) =>
      process.stderr.write(`${err.dim(`rc: ${reason}; reconnecting in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt})`)}\n`),
    onReconnect: () => process.stderr.write(`${err.dim('rc: reconnected')}\n`),
    signal: controller.signal,
  });
}

/** The master sends `gap` when a resume lost events (a restart, or more than it buffers). */
function printGap(data: string): void {
  const err = styleFor(process.stderr);
  const message = parseObject(data)?.['message'];
  const detail = typeof message === 'string' ? message : 'events were lost while reconnecting';
  process.stderr.write(`${err.bold(err.yellow(`rc: ---- gap: ${detail} ----`))}\n`);
}

/** Follow a task's output lines; exit 0 if it succeeds and 1 otherwise. */
async function followTask(client: MasterClient, taskId: string, opts: LogsOptions): Promise<void> {
  const state: TaskFollowState = { status: null, attempt: null, lines: 0 };
  const path = `/stream/tasks?task_id=${encodeURIComponent(taskId)}`;
  const outcome = await followWithNotices(client, path, (event) => {
    if (event.event === 'end') {
      state.status = finalStatus(parseObject(event.data)) ?? state.status;
      return true;
    }
    if (event.event === 'task') state.status = finalStatus(parseObject(event.data)) ?? state.status;
    else if (event.event === 'output') printOutput(event.data, state, opts.json === true);
    else printControl(event);
    return false;
  });
  if (outcome !== 'stopped') return;
  // The master keeps a finished task's stream only for a while (and not across restarts); the stored result has the output.
  if (state.lines === 0 && !opts.json) await printTaskOutput(client, taskId, opts);
  const status = state.status ?? (await fetchTask(client, taskId))['status'];
  process.stderr.write(`${styleFor(process.stderr).dim(`rc: task ${taskId} ${String(status)}`)}\n`);
  process.exitCode = status === 'succeeded' ? EXIT.ok : EXIT.failed;
}

interface TaskFollowState {
  status: string | null;
  attempt: unknown;
  /** Output lines printed so far. */
  lines: number;
}

function finalStatus(view: Record<string, unknown> | null): string | null {
  const status = view?.['status'];
  return typeof status === 'string' && FINAL.has(status) ? status : null;
}

function printOutput(data: string, state: TaskFollowState, isJson: boolean): void {
  state.lines += 1;
  if (isJson) {
    process.stdout.write(`${data}\n`);
    return;
  }
  const out = parseObject(data);
  if (!out) return;
  if (state.attempt !== null && out['attempt'] !== state.attempt) {
    process.stderr.write(`${styleFor(process.stderr).dim(`rc: -- attempt ${String(out['attempt'])} --`)}\n`);
  }
  state.attempt = out['attempt'];
  const line = String(out['line'] ?? '');
  (out['stream'] === 'stderr' ? process.stderr : process.stdout).write(line.endsWith('\n') ? line : `${line}\n`);
}

/** Without -f: the stored output of a task; exit 1 if it finished without success. */
async function printTaskOutput(client: MasterClient, taskId: string, opts: LogsOptions): Promise<void> {
  const task = await fetchTask(client, taskId);
  const status = String(task['status']);
  const output = (task['result'] as { output?: unknown } | null)?.output;
  if (opts.json) process.stdout.write(`${JSON.stringify(task)}\n`);
  else if (typeof output === 'string' && output !== '') process.stdout.write(output.endsWith('\n') ? output : `${output}\n`);
  if (!FINAL.has(status)) process.stderr.write(`rc: task ${taskId} is ${status}; rc logs -f --task ${taskId} follows it\n`);
  else if (status !== 'succeeded') process.exitCode = EXIT.failed;
}

async function fetchTask(client: MasterClient, taskId: string): Promise<Record<string, unknown>> {
  return expectOk(await client.get(`/api/v1/tasks/${encodeURIComponent(taskId)}`)) as Record<string, unknown>;
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
