import { TaskQueue } from '../../scheduler/queue.js';
import type { TaskRecord } from '../../store/store.js';

/**
 * The master's in-memory view of unfinished tasks: the queue of queued ones
 * and, per device, what is assigned or running there. Final tasks leave
 * memory; the store keeps them.
 */
export class ActiveTasks {
  readonly queue = new TaskQueue();
  readonly #tasks = new Map<string, TaskRecord>();
  readonly #byDevice = new Map<string, Set<string>>();
  readonly #byIdempotencyKey = new Map<string, string>();
  #seq = 0;

  get size(): number {
    return this.#tasks.size;
  }

  get(taskId: string): TaskRecord | undefined {
    return this.#tasks.get(taskId);
  }

  idForKey(key: string): string | undefined {
    return this.#byIdempotencyKey.get(key);
  }

  values(): IterableIterator<TaskRecord> {
    return this.#tasks.values();
  }

  /** Tasks assigned to or running on a device. */
  onDevice(deviceId: string): TaskRecord[] {
    const ids = this.#byDevice.get(deviceId);
    if (!ids) return [];
    return [...ids].map((id) => this.#tasks.get(id)).filter((t): t is TaskRecord => t !== undefined);
  }

  countOnDevice(deviceId: string): number {
    return this.#byDevice.get(deviceId)?.size ?? 0;
  }

  devicesWithTasks(): string[] {
    return [...this.#byDevice.keys()];
  }

  /** Track a task in whatever active state it is in (used at startup and submit). */
  track(task: TaskRecord, enqueuedMs: number): void {
    this.#tasks.set(task.task_id, task);
    if (task.idempotency_key !== null) this.#byIdempotencyKey.set(task.idempotency_key, task.task_id);
    if (task.status === 'queued') this.#enqueue(task, enqueuedMs);
    else if (task.device_id !== null) this.#attach(task.task_id, task.device_id);
  }

  /** queued → assigned bookkeeping (the caller sets the record's fields). */
  moveToDevice(task: TaskRecord, deviceId: string): void {
    this.queue.remove(task.task_id);
    this.#attach(task.task_id, deviceId);
  }

  /** assigned/running → queued bookkeeping. */
  moveToQueue(task: TaskRecord, nowMs: number): void {
    if (task.device_id !== null) this.#detach(task.task_id, task.device_id);
    this.#enqueue(task, nowMs);
  }

  /** Any active state → final: forget the task. */
  forget(task: TaskRecord): void {
    this.queue.remove(task.task_id);
    if (task.device_id !== null) this.#detach(task.task_id, task.device_id);
    this.#tasks.delete(task.task_id);
    if (task.idempotency_key !== null) this.#byIdempotencyKey.delete(task.idempotency_key);
  }

  #enqueue(task: TaskRecord, enqueuedMs: number): void {
    this.queue.add({
      task_id: task.task_id,
      task_type: task.task_type,
      priority: task.priority,
      requirements: task.requirements,
      seq: this.#seq++,
      enqueued_ms: enqueuedMs,
      not_before_ms: task.not_before_ms,
    });
  }

  #attach(taskId: string, deviceId: string): void {
    let set = this.#byDevice.get(deviceId);
    if (!set) {
      set = new Set();
      this.#byDevice.set(deviceId, set);
    }
    set.add(taskId);
  }

  #detach(taskId: string, deviceId: string): void {
    const set = this.#byDevice.get(deviceId);
    if (!set) return;
    set.delete(taskId);
    if (set.size === 0) this.#byDevice.delete(deviceId);
  }
}
