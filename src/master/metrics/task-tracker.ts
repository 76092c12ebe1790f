import { FINAL_STATUSES, TASK_STATUSES, type Store, type TaskRecord, type TaskStatus } from '../../store/store.js';

/** What one 'task' event means for the histograms. */
export interface TaskObservation {
  /** Set when the task was just assigned: assigned − (created or last enqueue). */
  queueWaitMs: number | null;
  /** Set when the task just reached a final state after it had started: finished − started. */
  durationMs: number | null;
}

interface Tracked {
  status: TaskStatus;
  /** When a requeued task went back to the queue (null when not queued). */
  enqueuedMs: number | null;
}

/** Pages through assigned/running rows at startup; 1000 is the store's page limit. */
const PAGE = 1000;

/**
 * Task counts by status kept in memory, so a scrape never counts a big table.
 * Counts start from `store.countTasksByStatus()` once, then follow TaskService
 * 'task' events. Only tasks that are not final are remembered, and of queued
 * ones only those that came back to the queue (to time their wait): a task
 * this tracker has never seen was queued. Submitting announces no event, so
 * the number of queued tasks comes from the scheduler queue, not from here.
 */
export class TaskStateTracker {
  readonly #counts = new Map<TaskStatus, number>();
  readonly #active = new Map<string, Tracked>();

  /** Read the starting point. Call before the TaskService changes any task. */
  constructor(store: Store) {
    const initial = store.countTasksByStatus();
    for (const status of TASK_STATUSES) this.#counts.set(status, status === 'queued' ? 0 : (initial[status] ?? 0));
    // After a restart some tasks may still be assigned/running: remember their status.
    if ((initial.assigned ?? 0) + (initial.running ?? 0) === 0) return;
    let before: string | undefined;
    for (;;) {
      const page = store.listTasks({ statuses: ['assigned', 'running'], limit: PAGE, ...(before === undefined ? {} : { before }) });
      for (const t of page) this.#active.set(t.task_id, { status: t.status, enqueuedMs: null });
      if (page.length < PAGE) break;
      before = page.at(-1)?.task_id;
    }
  }

  /** Tasks in a status other than queued (queued ones: the scheduler queue knows). */
  count(status: Exclude<TaskStatus, 'queued'>): number {
    return this.#counts.get(status) ?? 0;
  }

  /** How many task ids are remembered now (bounded by the unfinished tasks). */
  get trackedSize(): number {
    return this.#active.size;
  }

  /** Apply one TaskService 'task' event; `nowMs` timestamps a return to the queue. */
  onTask(task: TaskRecord, nowMs: number): TaskObservation {
    const seen = this.#active.get(task.task_id);
    const previous: TaskStatus = seen?.status ?? 'queued';
    const next = task.status;
    const out: TaskObservation = { queueWaitMs: null, durationMs: null };
    if (previous === next) return out;
    if (previous !== 'queued') this.#add(previous, -1);
    if (next !== 'queued') this.#add(next, 1);

    if (next === 'assigned' && task.assigned_at_ms !== null) {
      const since = seen?.enqueuedMs ?? task.created_at_ms;
      out.queueWaitMs = Math.max(0, task.assigned_at_ms - since);
    }
    if (FINAL_STATUSES.has(next)) {
      this.#active.delete(task.task_id);
      if (task.started_at_ms !== null && task.finished_at_ms !== null) out.durationMs = Math.max(0, task.finished_at_ms - task.started_at_ms);
    } else {
      this.#active.set(task.task_id, { status: next, enqueuedMs: next === 'queued' ? nowMs : null });
    }
    return out;
  }

  #add(status: TaskStatus, delta: number): void {
    this.#counts.set(status, Math.max(0, (this.#counts.get(status) ?? 0) + delta));
  }
}
