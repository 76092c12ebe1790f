import { FINAL_STATUSES, type TaskRecord } from '../../store/store.js';
import { SseChannel } from './sse-channel.js';
import type { SseConnection } from './sse-connection.js';
import { compactTaskView, type TaskOutputLine } from './views.js';

export interface TaskStreamsOptions {
  /** Events (output lines and state changes) kept per task. */
  ringSize: number;
  /** Tasks with a ring at once; past this the oldest unwatched ring is forgotten. */
  maxStreams: number;
  /** Characters (≈ bytes) all task rings may hold together; past this the same rule applies. */
  maxChars: number;
  /** How long a finished task's ring stays for late readers and resumes. */
  keepEndedMs: number;
  now(): number;
}

const FORGOTTEN_PER_STREAM = 10;

interface TaskStream {
  channel: SseChannel<null>;
  endedAtMs: number | null;
}

/**
 * Per-task streams for `/stream/tasks?task_id=`: live output lines and state
 * changes, then `end`. A ring starts with the task's first output line or
 * first reader, so output that came before anyone connected is replayed.
 */
export class TaskStreams {
  readonly #opts: TaskStreamsOptions;
  readonly #streams = new Map<string, TaskStream>();
  /** Last ids of forgotten rings: a ring started again continues them, so old ids still mean a gap. */
  readonly #forgotten = new Map<string, number>();
  #chars = 0;

  constructor(opts: TaskStreamsOptions) {
    this.#opts = opts;
  }

  get size(): number {
    return this.#streams.size;
  }

  /** Characters held by every task ring together. */
  get chars(): number {
    return this.#chars;
  }

  subscriberCount(taskId: string): number {
    return this.#streams.get(taskId)?.channel.subscriberCount ?? 0;
  }

  /** A live output line; `current` looks the task up when its ring has to be started. */
  publishOutput(line: TaskOutputLine, current: (taskId: string) => TaskRecord | null): void {
    const stream = this.#streams.get(line.task_id) ?? this.#start(line.task_id, current(line.task_id));
    // A line after the final state belongs to no attempt anyone still follows.
    if (stream.endedAtMs !== null) return;
    this.#publish(stream, 'output', JSON.stringify(line));
    this.#enforceBudget(stream);
  }

  /** A state change; only tasks that have a ring are of interest. */
  publishTask(task: TaskRecord): void {
    const stream = this.#streams.get(task.task_id);
    if (!stream || stream.endedAtMs !== null) return;
    this.#publishState(stream, task);
  }

  /** Replay after `afterId` (0: from the start), then follow until the task ends. */
  attach(conn: SseConnection, task: TaskRecord, afterId: number): () => void {
    const stream = this.#streams.get(task.task_id) ?? this.#start(task.task_id, task);
    if (stream.endedAtMs === null) return stream.channel.attach(conn, afterId);
    stream.channel.replay(conn, afterId);
    conn.end();
    return () => undefined;
  }

  /** Forget finished tasks whose rings have been kept long enough. */
  sweep(): void {
    const cutoff = this.#opts.now() - this.#opts.keepEndedMs;
    for (const [taskId, stream] of this.#streams) {
      if (stream.endedAtMs !== null && stream.endedAtMs <= cutoff) this.#forget(taskId, stream);
    }
  }

  #start(taskId: string, task: TaskRecord | null): TaskStream {
    if (this.#streams.size >= this.#opts.maxStreams) this.#forgetOne(null);
    const firstId = (this.#forgotten.get(taskId) ?? 0) + 1;
    this.#forgotten.delete(taskId);
    const stream: TaskStream = { channel: new SseChannel<null>(this.#opts.ringSize, firstId), endedAtMs: null };
    this.#streams.set(taskId, stream);
    if (task) this.#publishState(stream, task);
    return stream;
  }

  #publishState(stream: TaskStream, task: TaskRecord): void {
    this.#publish(stream, 'task', JSON.stringify(compactTaskView(task)));
    if (!FINAL_STATUSES.has(task.status)) return;
    this.#publish(stream, 'end', JSON.stringify({ task_id: task.task_id, status: task.status }));
    stream.endedAtMs = this.#opts.now();
    stream.channel.endAll();
  }

  #publish(stream: TaskStream, event: string, json: string): void {
    const before = stream.channel.ring.chars;
    stream.channel.publish(event, json, null);
    this.#chars += stream.channel.ring.chars - before;
  }

  /** Forget the oldest rings until the budget holds; never the one just written, whose readers want it. */
  #enforceBudget(keep: TaskStream): void {
    while (this.#chars > this.#opts.maxChars) {
      if (!this.#forgetOne(keep)) return;
    }
  }

  /** Map order is creation order: forget the oldest finished ring, else the oldest nobody reads. */
  #forgetOne(keep: TaskStream | null): boolean {
    let victim: string | null = null;
    for (const [taskId, stream] of this.#streams) {
      if (stream === keep) continue;
      if (stream.endedAtMs !== null) {
        victim = taskId;
        break;
      }
      if (victim === null && stream.channel.subscriberCount === 0) victim = taskId;
    }
    if (victim === null) return false;
    this.#forget(victim, this.#streams.get(victim)!);
    return true;
  }

  #forget(taskId: string, stream: TaskStream): void {
    this.#streams.delete(taskId);
    this.#chars -= stream.channel.ring.chars;
    this.#forgotten.set(taskId, stream.channel.ring.lastId);
    // A few numbers per task; bounded all the same.
    if (this.#forgotten.size > FORGOTTEN_PER_STREAM * this.#opts.maxStreams) {
      const oldest = this.#forgotten.keys().next();
      if (oldest.done !== true) this.#forgotten.delete(oldest.value);
    }
  }
}
