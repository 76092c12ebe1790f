/**
 * The worker's result outbox (PROTOCOL §7.1): results the master has not
 * acknowledged yet, kept in one append-only NDJSON file in the data dir so
 * that neither a master outage nor a worker restart loses a finished result.
 *
 *   {"put":{…task_result data…}}   a result is ready (written before it is sent)
 *   {"ack":"<task_id>#<attempt>"}  the master acknowledged it
 *
 * Each record is fsync'd before the caller goes on. The file is rewritten
 * with only the pending results when it is opened, and truncated whenever
 * nothing is pending, so it never holds more than the unacknowledged results
 * (at most the tasks that were running when the master went away).
 */
import { closeSync, fdatasyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../common/logger.js';
import type { TaskResultData } from '../protocol/types.js';

export const OUTBOX_FILE = 'outbox.ndjson';

export function outboxKey(r: { task_id: string; attempt: number }): string {
  return `${r.task_id}#${r.attempt}`;
}

export class ResultOutbox {
  readonly #pending = new Map<string, TaskResultData>();
  readonly #file: string | null;
  #fd: number | null = null;

  /** `file` null keeps the outbox in memory only (unit tests, plugins' harnesses). */
  private constructor(file: string | null) {
    this.#file = file;
  }

  static inMemory(): ResultOutbox {
    return new ResultOutbox(null);
  }

  /** Loads what a previous run left, skipping torn or foreign lines with a warning, and compacts the file. */
  static open(dataDir: string, log: Logger): ResultOutbox {
    const file = join(dataDir, OUTBOX_FILE);
    const outbox = new ResultOutbox(file);
    const skipped = outbox.#load(readIfExists(file));
    if (skipped > 0) log.warn({ file, skipped }, 'outbox: skipped unreadable lines (a crash mid-write leaves at most one)');
    if (outbox.size > 0) log.info({ file, results: outbox.size }, 'outbox: results from before the restart will be delivered');
    outbox.#rewrite();
    return outbox;
  }

  get size(): number {
    return this.#pending.size;
  }

  keys(): string[] {
    return [...this.#pending.keys()];
  }

  values(): TaskResultData[] {
    return [...this.#pending.values()];
  }

  get(key: string): TaskResultData | undefined {
    return this.#pending.get(key);
  }

  /** Durable before it returns: the result survives a crash from here on. */
  put(result: TaskResultData): string {
    const key = outboxKey(result);
    this.#pending.set(key, result);
    this.#append({ put: result });
    return key;
  }

  /** The master has the result; forget it (and empty the file once nothing is pending). */
  remove(key: string): void {
    if (!this.#pending.delete(key)) return;
    if (this.#pending.size === 0 && this.#fd !== null) {
      ftruncateSync(this.#fd, 0);
      fdatasyncSync(this.#fd);
      return;
    }
    this.#append({ ack: key });
  }

  close(): void {
    if (this.#fd === null) return;
    closeSync(this.#fd);
    this.#fd = null;
  }

  #load(text: string): number {
    let skipped = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const record = parseRecord(line);
      if (record === null) skipped++;
      else if ('ack' in record) this.#pending.delete(record.ack);
      else this.#pending.set(outboxKey(record.put), record.put);
    }
    return skipped;
  }

  /** Write the pending results to a new file and swap it in, so a crash mid-compaction loses nothing. */
  #rewrite(): void {
    if (this.#file === null) return;
    mkdirSync(dirname(this.#file), { recursive: true, mode: 0o700 });
    const tmp = `${this.#file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    for (const put of this.#pending.values()) writeSync(fd, `${JSON.stringify({ put })}\n`);
    fdatasyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.#file);
    this.#fd = openSync(this.#file, 'a', 0o600);
  }

  #append(record: object): void {
    if (this.#fd === null) return;
    writeSync(this.#fd, `${JSON.stringify(record)}\n`);
    fdatasyncSync(this.#fd);
  }
}

type OutboxRecord = { put: TaskResultData } | { ack: string };

function parseRecord(line: string): OutboxRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const rec = value as Record<string, unknown>;
  if (typeof rec['ack'] === 'string') return { ack: rec['ack'] };
  const put = rec['put'] as Record<string, unknown> | undefined;
  if (typeof put !== 'object' || put === null) return null;
  if (typeof put['task_id'] !== 'string' || !Number.isInteger(put['attempt']) || typeof put['status'] !== 'string') return null;
  return { put: put as unknown as TaskResultData };
}

function readIfExists(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}
