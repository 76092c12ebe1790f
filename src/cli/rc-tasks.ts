import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseRequirementFlag } from '../scheduler/requirements.js';
import { CliExit, expectOk, type MasterClient } from './http-client.js';
import { readTaskFile, submitMany } from './rc-batch.js';
import { EXIT } from './run-main.js';

type TaskView = Record<string, unknown> & { task_id: string; status: string; result: { output: string; exit_code: number | null; error: string | null; duration_s: number; truncated: boolean } | null };

const FINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled']);
const WAIT_POLL_MS = 250;

interface SubmitOptions {
  payload?: string;
  priority?: string;
  require: string[];
  timeout?: string;
  retries?: string;
  idempotencyKey?: string;
  label: string[];
  count?: string;
  from?: string;
  wait?: boolean;
  json?: boolean;
}

/** Flags that shape the one task built from the command line; a --from file carries its own. */
const SHAPING_FLAGS = ['payload', 'priority', 'timeout', 'retries', 'idempotencyKey'] as const;
const MAX_COUNT = 1_000_000;

/** rc submit / tasks / task / cancel. */
export function addTaskCommands(program: Command, client: () => MasterClient): void {
  program
    .command('submit [type]')
    .description('submit tasks (--count, --from); --wait for results')
    .option('--payload <json>', 'task input as JSON (default {})')
    .option('--priority <p>', 'low|normal|high|urgent')
    .option('--require <key=value>', 'requirement, repeatable (e.g. min_memory_gb=2, tags=arm,gpu)', collect, [])
    .option('--timeout <seconds>', 'kill the task after this (default 300)')
    .option('--retries <n>', 'retries after failure or timeout (default 3)')
    .option('--idempotency-key <key>', 'submitting the same key again returns the same task')
    .option('--label <key=value>', 'label, repeatable', collect, [])
    .option('--count <n>', 'submit n copies of the task in batches of 1000')
    .option('--from <file>', 'submit the tasks in FILE, one JSON task object per line (- = stdin)')
    .option('--wait', 'wait for the result (many: a progress bar, then a summary); exit 1 if any task did not succeed')
    .option('--json', 'print JSON')
    .action(async (type: string | undefined, opts: SubmitOptions) => {
      const many = await manyBodies(type, opts);
      if (many) await submitMany(client(), many, opts);
      else await submit(client(), type ?? '', opts);
    });
  program
    .command('tasks')
    .description('list tasks, newest first')
    .option('--status <s>', 'queued|assigned|running|succeeded|failed|timed_out|cancelled (comma list)')
    .option('--device <id>', 'only tasks on this device')
    .option('--limit <n>', 'at most this many (default 50)')
    .option('--json', 'print JSON')
    .action(async (opts: { status?: string; device?: string; limit?: string; json?: boolean }) => {
      const q = new URLSearchParams();
      if (opts.status) q.set('status', opts.status);
      if (opts.device) q.set('device_id', opts.device);
      if (opts.limit) q.set('limit', opts.limit);
      q.set('format', opts.json ? 'json' : 'text');
      const res = await client().get(`/text/tasks?${q.toString()}`);
      expectOk(res);
      process.stdout.write(res.text);
    });
  program
    .command('task <id>')
    .description('one task: record, why it waits, result, history')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const task = expectOk(await client().get(`/api/v1/tasks/${encodeURIComponent(id)}`)) as TaskView;
      process.stdout.write(opts.json ? `${JSON.stringify(task, null, 2)}\n` : formatTask(task));
    });
  program
    .command('cancel <id>')
    .description('cancel a queued or running task')
    .action(async (id: string) => {
      const task = expectOk(await client().post(`/api/v1/tasks/${encodeURIComponent(id)}/cancel`, {})) as TaskView;
      process.stdout.write(`${task.task_id} ${task.status}\n`);
    });
}

/** The task bodies for --count or --from, or null for a single task; every mistake is a usage error before anything is sent. */
async function manyBodies(type: string | undefined, opts: SubmitOptions): Promise<Record<string, unknown>[] | null> {
  if (opts.from !== undefined) {
    const shaping = SHAPING_FLAGS.filter((f) => opts[f] !== undefined).length + opts.require.length + opts.label.length;
    if (type !== undefined || opts.count !== undefined || shaping > 0) {
      throw new CliExit(EXIT.usage, '--from FILE takes its tasks whole from the file: give no task type, --count or task flags with it');
    }
    return readTaskFile(opts.from);
  }
  if (type === undefined) throw new CliExit(EXIT.usage, 'submit needs a task type (or --from FILE)');
  if (opts.count === undefined) return null;
  const count = Number(opts.count);
  if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) throw new CliExit(EXIT.usage, `--count ${opts.count}: a whole number from 1 to ${MAX_COUNT}`);
  if (opts.idempotencyKey !== undefined && count > 1) throw new CliExit(EXIT.usage, '--idempotency-key with --count would make the copies one task');
  const body = buildSubmitBody(type, opts);
  return Array.from({ length: count }, () => body);
}

async function submit(client: MasterClient, type: string, opts: SubmitOptions): Promise<void> {
  const body = buildSubmitBody(type, opts);
  const task = expectOk(await client.post('/api/v1/tasks', body)) as TaskView;
  if (!opts.wait) {
    process.stdout.write(opts.json ? `${JSON.stringify(task)}\n` : `${task.task_id}\n`);
    return;
  }
  const done = await waitForFinal(client, task.task_id);
  process.stdout.write(opts.json ? `${JSON.stringify(done, null, 2)}\n` : formatResult(done));
  if (done.status !== 'succeeded') process.exitCode = EXIT.failed;
}

export function buildSubmitBody(type: string, opts: SubmitOptions): Record<string, unknown> {
  const body: Record<string, unknown> = { task_type: type, payload: parseJsonFlag('--payload', opts.payload ?? '{}') };
  if (opts.priority) body['priority'] = opts.priority;
  if (opts.timeout) body['timeout_s'] = numberFlag('--timeout', opts.timeout);
  if (opts.retries) body['max_retries'] = numberFlag('--retries', opts.retries);
  if (opts.idempotencyKey) body['idempotency_key'] = opts.idempotencyKey;
  if (opts.require.length > 0) body['requirements'] = Object.fromEntries(opts.require.map(requirement));
  if (opts.label.length > 0) body['labels'] = Object.fromEntries(opts.label.map((l) => keyValue('--label', l)));
  return body;
}

async function waitForFinal(client: MasterClient, id: string): Promise<TaskView> {
  for (;;) {
    const task = expectOk(await client.get(`/api/v1/tasks/${encodeURIComponent(id)}`)) as TaskView;
    if (FINAL.has(task.status)) return task;
    await sleep(WAIT_POLL_MS);
  }
}

function formatResult(task: TaskView): string {
  const r = task.result;
  const lines = [`${task.task_id} ${task.status}${r ? ` (exit ${r.exit_code ?? '-'}, ${r.duration_s} s)` : ''}`];
  if (r?.error) lines.push(`error: ${r.error}`);
  if (r?.output) lines.push(r.output.replace(/\n$/, ''));
  if (r?.truncated) lines.push('[output truncated]');
  return `${lines.join('\n')}\n`;
}

function formatTask(task: TaskView): string {
  const keys = ['task_id', 'task_type', 'status', 'priority', 'device_id', 'attempts', 'retries', 'created_at', 'assigned_at', 'started_at', 'finished_at', 'wait_reason'];
  const width = Math.max(...keys.map((k) => k.length));
  const lines = keys.map((k) => `${`${k}:`.padEnd(width + 2)}${format(task[k])}`);
  const events = (task['events'] as Array<{ timestamp: string; kind: string; attempt: number | null; device_id: string | null }> | undefined) ?? [];
  lines.push('', 'history:');
  for (const e of events) lines.push(`  ${e.timestamp}  ${e.kind.padEnd(20)} ${e.attempt ?? ''} ${e.device_id ?? ''}`.trimEnd());
  if (task.result) lines.push('', formatResult(task).trimEnd());
  return `${lines.join('\n')}\n`;
}

function format(v: unknown): string {
  return v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function requirement(text: string): [string, unknown] {
  try {
    const { key, value } = parseRequirementFlag(text);
    return [key, value];
  } catch (err) {
    // The parser words its errors for this flag already (`--require key: …`).
    throw new CliExit(EXIT.usage, (err as Error).message);
  }
}

function keyValue(flag: string, text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new CliExit(EXIT.usage, `${flag} ${text}: expected key=value`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

function parseJsonFlag(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliExit(EXIT.usage, `${flag}: not valid JSON (${(err as Error).message})`);
  }
}

function numberFlag(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n)) throw new CliExit(EXIT.usage, `${flag}: "${text}" is not a number`);
  return n;
}
