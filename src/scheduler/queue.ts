import { PRIORITIES, type Priority } from '../store/store.js';
import type { QueuedTask } from './types.js';

const LEVELS: Readonly<Record<Priority, number>> = Object.fromEntries(PRIORITIES.map((p, i) => [p, i])) as Record<Priority, number>;

/** The level of a priority: its index in PRIORITIES (low 0 … urgent 3). */
export function priorityLevel(p: Priority): number {
  return LEVELS[p];
}

/**
 * The level a task is dispatched at: its own level plus one per full
 * `agingStepMs` it has waited, capped at `agingMaxLevel`, and never below its
 * own level (an `urgent` task keeps `urgent` even when the cap is `high`).
 * `agingStepMs` ≤ 0 disables aging.
 */
export function effectiveLevel(t: QueuedTask, nowMs: number, agingStepMs: number, agingMaxLevel: number): number {
  const own = priorityLevel(t.priority);
  if (!(agingStepMs > 0)) return own;
  const steps = Math.floor((nowMs - t.enqueued_ms) / agingStepMs);
  return Math.max(own, Math.min(agingMaxLevel, own + steps));
}

/**
 * One FIFO per base priority. A Map keeps insertion order, deletes in O(1),
 * and its iterators are live: entries deleted before they are reached are
 * skipped, which is what makes removal during `ordered()` safe.
 */
class Lane {
  readonly tasks = new Map<string, QueuedTask>();
  /**
   * True while insertion order is also (seq ascending, enqueued_ms
   * non-decreasing). Then the effective level never rises along the lane, so
   * the lane in insertion order is already in dispatch order.
   */
  inOrder = true;
  #lastSeq = -Infinity;
  #lastEnqueuedMs = -Infinity;

  add(t: QueuedTask): void {
    if (this.tasks.size === 0) this.#reset();
    if (t.seq < this.#lastSeq || t.enqueued_ms < this.#lastEnqueuedMs) this.inOrder = false;
    this.#lastSeq = Math.max(this.#lastSeq, t.seq);
    this.#lastEnqueuedMs = Math.max(this.#lastEnqueuedMs, t.enqueued_ms);
    this.tasks.set(t.task_id, t);
  }

  /**
   * The lane in dispatch order. In order: a live iterator, O(1) per task.
   * Out of order (a task added with a smaller seq, or a clock that stepped
   * back): re-insert sorted by seq, and if that restores the invariant go
   * live again; otherwise sort a snapshot by the key for this `nowMs`.
   */
  iterate(rank: (t: QueuedTask) => number): Iterator<QueuedTask> {
    if (!this.inOrder) this.#restore();
    if (this.inOrder) return this.tasks.values();
    return [...this.tasks.values()].sort((a, b) => rank(b) - rank(a) || a.seq - b.seq).values();
  }

  #restore(): void {
    const sorted = [...this.tasks.values()].sort((a, b) => a.seq - b.seq);
    this.tasks.clear();
    this.#reset();
    for (const t of sorted) this.add(t);
  }

  #reset(): void {
    this.inOrder = true;
    this.#lastSeq = -Infinity;
    this.#lastEnqueuedMs = -Infinity;
  }
}

/** The current task of one lane during `ordered()`, with its rank computed once. */
class LaneHead {
  task: QueuedTask | undefined;
  rank = 0;
  readonly #source: Iterator<QueuedTask>;
  readonly #rankOf: (t: QueuedTask) => number;

  constructor(source: Iterator<QueuedTask>, rankOf: (t: QueuedTask) => number) {
    this.#source = source;
    this.#rankOf = rankOf;
    this.advance();
  }

  advance(): void {
    const next = this.#source.next();
    this.task = next.done === true ? undefined : next.value;
    if (this.task !== undefined) this.rank = this.#rankOf(this.task);
  }

  /** Dispatch order: higher effective level first, then lower seq. */
  isBefore(other: LaneHead): boolean {
    if (this.rank !== other.rank) return this.rank > other.rank;
    return (this.task?.seq ?? Infinity) < (other.task?.seq ?? Infinity);
  }
}

/**
 * The queued tasks, in memory, in dispatch order on demand. Sized for
 * 100,000 tasks: add, remove and has are O(1), and `ordered()` costs O(1)
 * per task yielded (a merge over four FIFO heads), never a sort of the queue.
 */
export class TaskQueue {
  readonly #lanes: readonly Lane[] = PRIORITIES.map(() => new Lane());
  readonly #byId = new Map<string, QueuedTask>();

  get size(): number {
    return this.#byId.size;
  }

  has(taskId: string): boolean {
    return this.#byId.has(taskId);
  }

  get(taskId: string): QueuedTask | undefined {
    return this.#byId.get(taskId);
  }

  /**
   * Queue a task at the back of its priority's FIFO. Callers add with rising
   * `seq` (and rising `enqueued_ms`); anything else still works, at the cost
   * of a sort in the next `ordered()`. A task with a queued id replaces it.
   */
  add(t: QueuedTask): void {
    this.remove(t.task_id);
    this.#byId.set(t.task_id, t);
    this.#laneOf(t).add(t);
  }

  remove(taskId: string): boolean {
    const t = this.#byId.get(taskId);
    if (t === undefined) return false;
    this.#byId.delete(taskId);
    this.#laneOf(t).tasks.delete(taskId);
    return true;
  }

  sizeByPriority(): Record<Priority, number> {
    const out = {} as Record<Priority, number>;
    PRIORITIES.forEach((p, level) => (out[p] = this.#lanes[level]?.tasks.size ?? 0));
    return out;
  }

  /**
   * Queued tasks in dispatch order: effective level descending (see
   * `effectiveLevel`), then `seq` ascending. Lazy: a caller that stops early
   * pays only for what it took.
   *
   * The caller may remove tasks while iterating (the dispatcher removes each
   * task it assigns): a removed task that has not been yielded yet is never
   * yielded. A task added during iteration may or may not be yielded.
   * Run one iteration at a time: starting one may re-sort a lane that was
   * added to out of order, under an iteration already in progress.
   */
  *ordered(nowMs: number, agingStepMs: number, agingMax: Priority): Generator<QueuedTask> {
    const maxLevel = priorityLevel(agingMax);
    const rank = (t: QueuedTask): number => effectiveLevel(t, nowMs, agingStepMs, maxLevel);
    const heads = this.#lanes.map((lane) => new LaneHead(lane.iterate(rank), rank));
    for (;;) {
      const head = this.#nextHead(heads);
      if (head === null) return;
      yield head.task as QueuedTask;
      head.advance();
    }
  }

  /** The head that goes next, after skipping tasks removed meanwhile; null when all lanes are done. */
  #nextHead(heads: readonly LaneHead[]): LaneHead | null {
    let best: LaneHead | null = null;
    for (const head of heads) {
      while (head.task !== undefined && this.#byId.get(head.task.task_id) !== head.task) head.advance();
      if (head.task !== undefined && (best === null || head.isBefore(best))) best = head;
    }
    return best;
  }

  #laneOf(t: QueuedTask): Lane {
    const lane = this.#lanes[priorityLevel(t.priority)];
    if (lane === undefined) throw new RangeError(`unknown priority ${String(t.priority)}`);
    return lane;
  }
}
