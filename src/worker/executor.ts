/**
 * Runs the tasks the master assigns (PROTOCOL §5.9 to §5.12, §11): at most
 * `maxTasks` at a time, each with its own timeout, cancel and output cap.
 * Every accepted attempt ends in exactly one result, unless a newer attempt
 * of the same task replaced it; nothing a task type does can throw out of here.
 * Each attempt runs in a fresh private work dir that is gone before its
 * result is reported.
 */
import PQueue from 'p-queue';
import type { ErrorCode } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { formatViolations, payloadValidator } from '../protocol/task-payloads.js';
import type { TaskAssignData, TaskProgressData, TaskResultData, WireTaskStatus } from '../protocol/types.js';
import { DEFAULT_KILL_GRACE_MS } from './process-tree.js';
import { createWorkDir, removeWorkDir } from './task-sandbox.js';
import type { OutputSink, OutputStream, TaskContext, TaskOutcome, TaskTypeDefinition } from './tasks/types.js';

/** The wire shapes (PROTOCOL §5.9–§5.11), under the names the executor has always used. */
export type AssignData = TaskAssignData;
export type ProgressData = TaskProgressData;
export type FinalTaskStatus = WireTaskStatus;
export type ResultData = TaskResultData;

export type AcceptResult = { ok: true } | { ok: false; code: ErrorCode; message: string };

export interface TaskExecutorOptions {
  maxTasks: number;
  types: ReadonlyMap<string, TaskTypeDefinition>;
  log: Logger;
  /** Output kept per task, in UTF-8 bytes. Default 1 MiB. */
  outputCapBytes?: number;
  /** Between SIGTERM and SIGKILL of an aborted task's processes, in ms. Default 2000. */
  killGraceMs?: number;
  onProgress(p: ProgressData): void;
  onResult(r: ResultData): void;
}

export const DEFAULT_OUTPUT_CAP_BYTES = 1024 * 1024;
/** After an abort, a task type gets the kill grace plus this long (ms) to return before its slot is given up. */
const ABANDON_AFTER_ABORT_MS = 5000;
/** setTimeout's largest delay, in ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const PRIORITY_RANK: Readonly<Record<string, number>> = { low: 0, normal: 1, high: 2, urgent: 3 };
const ACCEPTED: AcceptResult = Object.freeze({ ok: true });

type AbortCause = 'timeout' | 'cancel' | 'shutdown' | 'superseded';

/** A started task type: see `TaskExecutor.#runType`. */
interface TypeRun {
  outcome: Promise<TaskOutcome>;
  returned: Promise<TaskOutcome>;
}

interface HeldTask {
  readonly assign: AssignData;
  readonly def: TaskTypeDefinition;
  readonly controller: AbortController;
  readonly collector: OutputCollector;
  readonly log: Logger;
  readonly done: Promise<void>;
  markDone(): void;
  cause: AbortCause | null;
  startedAtMs: number | null;
  isSettled: boolean;
}

export class TaskExecutor {
  readonly #opts: TaskExecutorOptions;
  readonly #queue: PQueue;
  /** The current attempt of each task we hold (queued or running), by task_id. */
  readonly #held = new Map<string, HeldTask>();
  /** Every attempt that has not ended yet, including replaced ones still stopping. */
  readonly #unsettled = new Set<HeldTask>();
  #closing: Promise<void> | null = null;

  constructor(opts: TaskExecutorOptions) {
    this.#opts = opts;
    this.#queue = new PQueue({ concurrency: Math.max(1, opts.maxTasks) });
  }

  /** Takes a task_assign; idempotent per (task_id, attempt). A new attempt replaces the old one silently. */
  accept(assign: AssignData): AcceptResult {
    const current = this.#held.get(assign.task_id);
    if (current?.assign.attempt === assign.attempt) return ACCEPTED;
    // A delayed assign for an older attempt must not displace the newer one.
    if (current !== undefined && current.assign.attempt > assign.attempt) {
      return refuse('RC_ERR_PROTO_UNEXPECTED', `attempt ${assign.attempt} is older than the held attempt ${current.assign.attempt}`);
    }
    if (this.#closing !== null) return refuse('RC_ERR_TASK_WORKER_CLOSING', 'the worker is shutting down');
    const checked = this.#check(assign);
    if (!checked.ok) return checked;
    if (current) this.#abort(current, 'superseded');
    this.#enqueue(assign, checked.def);
    return ACCEPTED;
  }

  /** Stops a queued or running task; it reports `cancelled`. False if no such task is held. */
  /** Cancel the held task; with `attempt`, only if that is the attempt held (PROTOCOL §5.12). */
  cancel(taskId: string, attempt?: number): boolean {
    const task = this.#held.get(taskId);
    if (task === undefined) return false;
    if (attempt !== undefined && task.assign.attempt !== attempt) return false;
    this.#abort(task, 'cancel');
    return true;
  }

  /** The attempts held now: queued or running. */
  running(): Array<{ task_id: string; attempt: number }> {
    return [...this.#held.values()].map((t) => ({ task_id: t.assign.task_id, attempt: t.assign.attempt }));
  }

  /** Tasks held (queued or running): what counts against max_tasks. */
  get activeCount(): number {
    return this.#held.size;
  }

  /**
   * Stops accepting, waits up to `graceMs` for held tasks, aborts the rest
   * (`cancelled`, error `worker shutting down`) and resolves once every
   * result was emitted. Idempotent.
   */
  close(graceMs: number): Promise<void> {
    this.#closing ??= this.#shutdown(graceMs);
    return this.#closing;
  }

  async #shutdown(graceMs: number): Promise<void> {
    await this.#waitForUnsettled(graceMs);
    for (const task of [...this.#unsettled]) this.#abort(task, 'shutdown');
    await Promise.all([...this.#unsettled].map((t) => t.done));
  }

  async #waitForUnsettled(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    try {
      await Promise.race([Promise.all([...this.#unsettled].map((t) => t.done)), timeUp]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The task type, or why the assignment is refused. */
  #check(assign: AssignData): { ok: true; def: TaskTypeDefinition } | Extract<AcceptResult, { ok: false }> {
    const def = this.#opts.types.get(assign.task_type);
    if (def === undefined) {
      const offered = [...this.#opts.types.keys()].sort().join(', ');
      return refuse('RC_ERR_TASK_UNKNOWN_TYPE', `this worker does not offer task type "${assign.task_type}" (it offers: ${offered})`);
    }
    try {
      const violations = payloadValidator(def.payloadSchema)(assign.payload);
      if (violations.length === 0) return { ok: true, def };
      return refuse('RC_ERR_TASK_PAYLOAD', `payload does not fit task type ${def.name}: ${formatViolations(violations)}`);
    } catch (err) {
      return refuse('RC_ERR_INTERNAL', `payload schema of task type ${def.name} does not compile: ${errorMessage(err)}`);
    }
  }

  #enqueue(assign: AssignData, def: TaskTypeDefinition): void {
    const task = this.#newHeldTask(assign, def);
    this.#held.set(assign.task_id, task);
    this.#unsettled.add(task);
    const priority = PRIORITY_RANK[assign.priority ?? 'normal'] ?? 1;
    this.#queue.add(() => this.#run(task), { priority }).catch((err: unknown) => task.log.error({ err }, 'task runner failed'));
  }

  #newHeldTask(assign: AssignData, def: TaskTypeDefinition): HeldTask {
    let markDone!: () => void;
    const done = new Promise<void>((resolve) => (markDone = resolve));
    const ids = { task_id: assign.task_id, attempt: assign.attempt };
    const collector = new OutputCollector(this.#opts.outputCapBytes ?? DEFAULT_OUTPUT_CAP_BYTES, (stream, line, seq) =>
      this.#progress({ ...ids, event: 'output', stream, line, seq }),
    );
    const log = this.#opts.log.child(ids);
    return { assign, def, controller: new AbortController(), collector, log, done, markDone, cause: null, startedAtMs: null, isSettled: false };
  }

  async #run(task: HeldTask): Promise<void> {
    if (task.cause !== null) return; // cancelled or replaced while queued: already settled
    task.startedAtMs = performance.now();
    this.#progress({ task_id: task.assign.task_id, attempt: task.assign.attempt, event: 'started' });
    this.#settle(task, await this.#runInWorkDir(task));
  }

  /**
   * Runs the task type in a work dir of its own and removes the dir once the
   * type has returned; exec and shell return only after their process group
   * is gone. A type that was given up on is swept again when it does return.
   */
  async #runInWorkDir(task: HeldTask): Promise<TaskOutcome> {
    let workDir: string;
    try {
      workDir = await createWorkDir();
    } catch (err) {
      task.log.warn({ err }, 'cannot create task work dir');
      return { exit_code: null, error: `cannot create a work dir: ${errorMessage(err)}` };
    }
    // Aborted while the dir was made: the cause alone decides the result.
    const { outcome, returned } = task.cause === null ? this.#runType(task, workDir) : skipped();
    let hasReturned = false;
    void returned.then(() => (hasReturned = true));
    try {
      return await outcome;
    } finally {
      await removeWorkDir(workDir, task.log);
      if (!hasReturned) void returned.then(() => removeWorkDir(workDir, task.log));
    }
  }

  /**
   * Starts the task type and its timeout. `outcome`: the type's outcome, where
   * a throw is a failure and a type that ignores its abort is given up on; the
   * timeout stops with it. `returned`: when the type really returned.
   */
  #runType(task: HeldTask, workDir: string): TypeRun {
    const timeoutMs = Math.min(task.assign.timeout_s * 1000, MAX_TIMER_MS);
    const timer = setTimeout(() => this.#abort(task, 'timeout'), timeoutMs);
    const killGraceMs = this.#opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    const ctx: TaskContext = {
      task_id: task.assign.task_id,
      attempt: task.assign.attempt,
      payload: task.assign.payload,
      signal: task.controller.signal,
      timeoutMs,
      killGraceMs,
      output: task.collector,
      log: task.log,
      workDir,
    };
    const returned = Promise.resolve()
      .then(() => task.def.run(ctx))
      .then(normalizeOutcome, (err: unknown) => ({ exit_code: null, error: errorMessage(err) }));
    const abandoned = this.#abandonAfterAbort(task, killGraceMs + ABANDON_AFTER_ABORT_MS);
    return { outcome: Promise.race([returned, abandoned]).finally(() => clearTimeout(timer)), returned };
  }

  #abandonAfterAbort(task: HeldTask, ms: number): Promise<TaskOutcome> {
    return new Promise((resolve) => {
      const giveUp = (): void => {
        if (task.isSettled) return;
        task.log.warn({ task_type: task.def.name, waited_ms: ms }, 'task type did not stop after abort; giving up on it');
        resolve({ exit_code: null, error: 'did not stop after abort' });
      };
      task.controller.signal.addEventListener('abort', () => setTimeout(giveUp, ms).unref(), { once: true });
    });
  }

  #abort(task: HeldTask, cause: AbortCause): void {
    if (task.cause !== null || task.isSettled) return;
    task.cause = cause;
    task.log.info({ cause }, 'task aborted');
    task.controller.abort(new Error(cause));
    if (task.startedAtMs === null) this.#settle(task, { exit_code: null, error: null });
  }

  #settle(task: HeldTask, outcome: TaskOutcome): void {
    if (task.isSettled) return;
    task.isSettled = true;
    task.collector.close();
    if (this.#held.get(task.assign.task_id) === task) this.#held.delete(task.assign.task_id);
    this.#unsettled.delete(task);
    if (task.cause !== 'superseded') this.#emitResult(toResultData(task, outcome));
    task.markDone();
  }

  #emitResult(result: ResultData): void {
    try {
      this.#opts.onResult(result);
    } catch (err) {
      this.#opts.log.error({ err, task_id: result.task_id }, 'result handler failed');
    }
  }

  #progress(p: ProgressData): void {
    try {
      this.#opts.onProgress(p);
    } catch (err) {
      this.#opts.log.warn({ err, task_id: p.task_id }, 'progress handler failed');
    }
  }
}

function skipped(): TypeRun {
  const none = Promise.resolve<TaskOutcome>({ exit_code: null, error: null });
  return { outcome: none, returned: none };
}

function refuse(code: ErrorCode, message: string): Extract<AcceptResult, { ok: false }> {
  return { ok: false, code, message };
}

function toResultData(task: HeldTask, outcome: TaskOutcome): ResultData {
  const { status, error } = finalStatus(task, outcome);
  const durationMs = task.startedAtMs === null ? 0 : performance.now() - task.startedAtMs;
  return {
    task_id: task.assign.task_id,
    attempt: task.assign.attempt,
    status,
    result: {
      output: task.collector.output,
      exit_code: outcome.exit_code,
      error,
      duration_s: Math.round(durationMs) / 1000,
      truncated: task.collector.isTruncated,
    },
  };
}

function finalStatus(task: HeldTask, outcome: TaskOutcome): { status: FinalTaskStatus; error: string | null } {
  switch (task.cause) {
    case 'timeout':
      return { status: 'timed_out', error: `timed out after ${task.assign.timeout_s}s` };
    case 'cancel':
      return { status: 'cancelled', error: 'cancelled' };
    case 'shutdown':
      return { status: 'cancelled', error: 'worker shutting down' };
    default:
      if (outcome.error === null && outcome.exit_code === 0) return { status: 'succeeded', error: null };
      // SIGKILL that nobody here sent: the OS took the process (Android's low-memory killer, the OOM killer).
      if (outcome.killed_by_signal === 'SIGKILL') return { status: 'device_killed', error: 'killed by the OS (SIGKILL), not by the task or the worker' };
      return { status: 'failed', error: outcome.error ?? `exited with code ${String(outcome.exit_code)}` };
  }
}

/** Plugins are not type-checked against us: coerce what they return into a valid outcome. */
function normalizeOutcome(value: unknown): TaskOutcome {
  if (typeof value !== 'object' || value === null) return { exit_code: null, error: 'task type returned no outcome' };
  const { exit_code: code, error, killed_by_signal: signal } = value as Record<string, unknown>;
  return {
    exit_code: Number.isInteger(code) ? (code as number) : null,
    error: error === null || error === undefined ? null : String(error),
    killed_by_signal: typeof signal === 'string' ? signal : null,
  };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The OutputSink a task writes to: keeps the combined output up to a byte cap
 * (cut on a character boundary) and reports each complete line per stream.
 * Lines past the cap are not reported, so progress and result agree.
 */
class OutputCollector implements OutputSink {
  readonly #capBytes: number;
  readonly #onLine: (stream: OutputStream, line: string, seq: number) => void;
  readonly #partial: Record<OutputStream, string> = { stdout: '', stderr: '' };
  #output = '';
  #bytes = 0;
  #seq = 0;
  #isTruncated = false;
  #isClosed = false;

  constructor(capBytes: number, onLine: (stream: OutputStream, line: string, seq: number) => void) {
    this.#capBytes = capBytes;
    this.#onLine = onLine;
  }

  get output(): string {
    return this.#output;
  }

  get isTruncated(): boolean {
    return this.#isTruncated;
  }

  write(stream: OutputStream, text: string): void {
    if (this.#isClosed || this.#isTruncated) return;
    const kept = this.#keep(String(text));
    if (kept.length === 0) return;
    this.#output += kept;
    this.#splitLines(stream === 'stderr' ? 'stderr' : 'stdout', kept);
  }

  /** Reports the unfinished last lines and ignores any later write (a task that did not stop). */
  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.#partial[stream] !== '') this.#emit(stream, this.#partial[stream]);
      this.#partial[stream] = '';
    }
  }

  #keep(text: string): string {
    const bytes = Buffer.byteLength(text, 'utf8');
    const room = this.#capBytes - this.#bytes;
    if (bytes <= room) {
      this.#bytes += bytes;
      return text;
    }
    this.#isTruncated = true;
    const cut = utf8Prefix(text, room);
    this.#bytes += Buffer.byteLength(cut, 'utf8');
    return cut;
  }

  #splitLines(stream: OutputStream, text: string): void {
    if (!text.includes('\n')) {
      this.#partial[stream] += text;
      return;
    }
    const lines = (this.#partial[stream] + text).split('\n');
    this.#partial[stream] = lines.pop() ?? '';
    for (const line of lines) this.#emit(stream, line);
  }

  #emit(stream: OutputStream, line: string): void {
    this.#onLine(stream, line.endsWith('\r') ? line.slice(0, -1) : line, this.#seq++);
  }
}

/** The longest prefix of `text` that fits in `maxBytes` of UTF-8 without splitting a character. */
export function utf8Prefix(text: string, maxBytes: number): string {
  if (maxBytes <= 0) return '';
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  let end = maxBytes;
  // A continuation byte (10xxxxxx) at the cut means the cut is inside a character.
  while (end > 0 && ((buf[end] ?? 0) & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}
