import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliExit, expectOk, type MasterClient } from './http-client.js';
import { printJson } from './rc-output.js';
import { ProgressBar } from './rc-progress.js';
import { EXIT } from './run-main.js';

/** Issue: at most 1000 tasks per request. */
export const MAX_BATCH = 1000;
/** Issue: at least 200 ms between polling rounds. */
const POLL_MS = 250;
const PAGE = 1000;
const FINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled']);
const LISTED_FAILURES = 10;

interface TaskRow {
  task_id: string;
  status: string;
}

export interface SubmitManyOptions {
  wait?: boolean;
  json?: boolean;
}

/** Submit many tasks in batches of ≤ 1000; with `wait`, poll until all are final and print a summary. */
export async function submitMany(client: MasterClient, bodies: readonly Record<string, unknown>[], opts: SubmitManyOptions): Promise<void> {
  const startedMs = Date.now();
  const tasks = await submitInBatches(client, bodies);
  if (!opts.wait) {
    if (opts.json) printJson(tasks, false);
    else process.stdout.write(tasks.map((t) => `${t.task_id}\n`).join(''));
    return;
  }
  const ids = [...new Set(tasks.map((t) => t.task_id))];
  const bar = new ProgressBar(process.stderr);
  const final = await waitForAll(client, ids, (done, failed) => bar.update({ done, failed, total: ids.length, elapsedMs: Date.now() - startedMs }));
  bar.clear();
  const summary = summarize(final, Date.now() - startedMs);
  if (opts.json) printJson(summary);
  else process.stdout.write(formatSummary(summary));
  if (summary.not_succeeded.length > 0) process.exitCode = EXIT.failed;
}

async function submitInBatches(client: MasterClient, bodies: readonly Record<string, unknown>[]): Promise<TaskRow[]> {
  const out: TaskRow[] = [];
  for (let from = 0; from < bodies.length; from += MAX_BATCH) {
    const batch = bodies.slice(from, from + MAX_BATCH);
    try {
      // Only ids and statuses are used: the master need not render (nor we parse) whole task views.
      out.push(...(expectOk(await client.post('/api/v1/tasks', batch, { prefer: 'return=minimal' })) as TaskRow[]));
    } catch (err) {
      if (!(err instanceof CliExit) || from === 0) throw err;
      // One batch is one transaction: the ones before it stand, this one and later ones do not.
      throw new CliExit(err.exitCode, `tasks ${from + 1}–${from + batch.length} refused (the ${from} before them were submitted): ${err.message}`);
    }
  }
  return out;
}

/**
 * Tasks from one file, one JSON object per line (`-` reads stdin). Every
 * line is checked before anything is sent, so a bad line submits nothing.
 */
export async function readTaskFile(file: string): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    throw new CliExit(EXIT.usage, `--from ${file}: ${(err as Error).message}`);
  }
  return parseTaskLines(text, `--from ${file}`);
}

export function parseTaskLines(text: string, source: string): Record<string, unknown>[] {
  const tasks: Record<string, unknown>[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new CliExit(EXIT.usage, `${source} line ${i + 1}: not valid JSON (${(err as Error).message}); nothing submitted`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as { task_type?: unknown }).task_type !== 'string') {
      throw new CliExit(EXIT.usage, `${source} line ${i + 1}: expected a JSON object with a "task_type" string; nothing submitted`);
    }
    tasks.push(value as Record<string, unknown>);
  });
  if (tasks.length === 0) throw new CliExit(EXIT.usage, `${source}: no tasks in it`);
  return tasks;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Which of our tasks are still open, and the oldest of them (ids are UUIDv7: they sort by creation). */
class PendingSet {
  readonly final = new Map<string, string>();
  readonly #sorted: string[];
  readonly #open: Set<string>;
  #oldest = 0;
  failed = 0;

  constructor(ids: readonly string[]) {
    this.#sorted = [...ids].sort();
    this.#open = new Set(ids);
  }

  get size(): number {
    return this.#open.size;
  }

  has(id: string): boolean {
    return this.#open.has(id);
  }

  ids(): string[] {
    return [...this.#open];
  }

  oldest(): string | undefined {
    while (this.#oldest < this.#sorted.length && !this.#open.has(this.#sorted[this.#oldest]!)) this.#oldest++;
    return this.#sorted[this.#oldest];
  }

  settle(id: string, status: string): void {
    if (!this.#open.delete(id)) return;
    this.final.set(id, status);
    if (status !== 'succeeded') this.failed++;
  }
}

/**
 * Poll until every task is final. One round pages through GET /api/v1/tasks
 * newest first (1000 a page) down to our oldest task that is still open, so
 * a round costs about (open tasks + newer ones) / 1000 requests, not one per
 * task, and shrinks as tasks finish. Rounds are POLL_MS apart.
 */
async function waitForAll(client: MasterClient, ids: readonly string[], onRound: (done: number, failed: number) => void): Promise<Map<string, string>> {
  const pending = new PendingSet(ids);
  onRound(0, 0);
  while (pending.size > 0) {
    await pollRound(client, pending);
    onRound(pending.final.size, pending.failed);
    if (pending.size > 0) await sleep(POLL_MS);
  }
  return pending.final;
}

async function pollRound(client: MasterClient, pending: PendingSet): Promise<void> {
  const floor = pending.oldest();
  if (floor === undefined) return;
  const seen = new Set<string>();
  let before: string | null = null;
  for (;;) {
    const path = `/api/v1/tasks?limit=${PAGE}${before === null ? '' : `&before=${encodeURIComponent(before)}`}`;
    const page = expectOk(await client.get(path)) as { tasks: TaskRow[]; next_before: string | null };
    for (const t of page.tasks) {
      seen.add(t.task_id);
      if (FINAL.has(t.status)) pending.settle(t.task_id, t.status);
    }
    const last = page.tasks.at(-1);
    if (page.next_before === null || last === undefined || last.task_id <= floor) break;
    before = page.next_before;
  }
  // The pages covered every id from the newest down to `floor`: an open task missing from them is gone.
  for (const id of pending.ids().filter((x) => !seen.has(x))) await settleOne(client, pending, id);
}

async function settleOne(client: MasterClient, pending: PendingSet, id: string): Promise<void> {
  const res = await client.get(`/api/v1/tasks/${encodeURIComponent(id)}`);
  if (res.status === 404) return pending.settle(id, 'missing');
  const task = expectOk(res) as TaskRow;
  if (FINAL.has(task.status)) pending.settle(id, task.status);
}

export interface BatchSummary {
  total: number;
  counts: Record<string, number>;
  elapsed_s: number;
  tasks_per_s: number;
  not_succeeded: TaskRow[];
}

export function summarize(final: ReadonlyMap<string, string>, elapsedMs: number): BatchSummary {
  const counts: Record<string, number> = {};
  const notSucceeded: TaskRow[] = [];
  for (const [task_id, status] of final) {
    counts[status] = (counts[status] ?? 0) + 1;
    if (status !== 'succeeded') notSucceeded.push({ task_id, status });
  }
  const seconds = Math.max(elapsedMs, 1) / 1000;
  return { total: final.size, counts, elapsed_s: round1(seconds), tasks_per_s: round1(final.size / seconds), not_succeeded: notSucceeded };
}

/** `20 tasks in 1.9 s (10.5 tasks/s): 19 succeeded, 1 failed`, then the ids that did not succeed. */
export function formatSummary(s: BatchSummary): string {
  const order = ['succeeded', 'failed', 'timed_out', 'cancelled', 'missing'];
  const statuses = Object.keys(s.counts).sort((a, b) => rank(order, a) - rank(order, b));
  const lines = [`${s.total} tasks in ${s.elapsed_s.toFixed(1)} s (${s.tasks_per_s.toFixed(1)} tasks/s): ${statuses.map((st) => `${s.counts[st]} ${st}`).join(', ')}`];
  if (s.not_succeeded.length > 0) {
    const listed = s.not_succeeded.slice(0, LISTED_FAILURES).map((t) => `  ${t.task_id} ${t.status}`);
    const more = s.not_succeeded.length - listed.length;
    lines.push('did not succeed:', ...listed, ...(more > 0 ? [`  … and ${more} more (rc tasks --status failed,timed_out,cancelled)`] : []));
  }
  return `${lines.join('\n')}\n`;
}

function rank(order: readonly string[], status: string): number {
  const i = order.indexOf(status);
  return i === -1 ? order.length : i;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
