import type { TaskRequirements } from '../store/store.js';
import { isAvailable, matchDevice } from './matcher.js';
import { pickDevice } from './placement.js';
import type { TaskQueue } from './queue.js';
import { DEFAULT_MAX_EXPLAINED, type DeviceSnapshot, type DispatchOptions, type DispatchPlan, type QueuedTask } from './types.js';
import { explainWait } from './wait-reason.js';

/**
 * Tasks with the same type and requirements fit the same devices: one key
 * for both, with requirement keys and tags sorted so their order is moot.
 */
export function taskSignature(taskType: string, req: TaskRequirements): string {
  const keys = Object.keys(req).sort() as Array<keyof TaskRequirements>;
  if (keys.length === 0) return JSON.stringify([taskType]);
  return JSON.stringify([taskType, keys.map((k) => [k, k === 'tags' ? [...(req.tags ?? [])].sort() : req[k]])]);
}

/**
 * Signatures by task, kept across passes: with a long queue of tasks that fit
 * nowhere, building the key is most of a pass's cost. Weak, so a task that
 * leaves the queue leaves the cache. A queued task's type and requirements
 * are not changed in place (a change is a new QueuedTask), so a memo is safe.
 */
const signatures = new WeakMap<QueuedTask, string>();

function signatureOf(task: QueuedTask): string {
  let signature = signatures.get(task);
  if (signature === undefined) {
    signature = taskSignature(task.task_type, task.requirements);
    signatures.set(task, signature);
  }
  return signature;
}

/** One dispatch pass: working copies of the devices, and what has been decided so far. */
class Pass {
  readonly plan: DispatchPlan = { assignments: [], waiting: new Map() };
  readonly #devices: DeviceSnapshot[];
  readonly #opts: DispatchOptions;
  readonly #maxExplained: number;
  /** Signatures that found no device in this pass, with their reason. */
  readonly #unplaceable = new Map<string, string>();
  #freeDevices: number;

  constructor(devices: readonly DeviceSnapshot[], opts: DispatchOptions) {
    this.#devices = devices.map((d) => ({ ...d }));
    this.#opts = opts;
    this.#maxExplained = opts.max_explained ?? DEFAULT_MAX_EXPLAINED;
    this.#freeDevices = this.#devices.filter(isAvailable).length;
  }

  get isDone(): boolean {
    if (this.plan.assignments.length >= this.#opts.max_assignments) return true;
    return this.#freeDevices === 0 && this.plan.waiting.size >= this.#maxExplained;
  }

  consider(task: QueuedTask): void {
    const signature = signatureOf(task);
    const known = this.#unplaceable.get(signature);
    if (known !== undefined) {
      this.plan.waiting.set(task.task_id, known);
      return;
    }
    const device = this.#freeDevices > 0 ? this.#pick(task) : null;
    if (device !== null) {
      this.#assign(task, device);
      return;
    }
    // Devices only fill up during a pass, so a signature that found none finds none later either.
    const reason = explainWait(task.task_type, task.requirements, this.#devices);
    this.#unplaceable.set(signature, reason);
    this.plan.waiting.set(task.task_id, reason);
  }

  #pick(task: QueuedTask): DeviceSnapshot | null {
    const candidates = this.#devices.filter((d) => isAvailable(d) && matchDevice(task.task_type, task.requirements, d).ok);
    return pickDevice(candidates, this.#opts.weights);
  }

  /** Later picks in this pass see the device one task busier and just assigned. */
  #assign(task: QueuedTask, device: DeviceSnapshot): void {
    device.active_tasks += 1;
    device.last_assigned_ms = this.#opts.now_ms;
    if (!isAvailable(device)) this.#freeDevices -= 1;
    this.plan.assignments.push({ task_id: task.task_id, device_id: device.device_id });
  }
}

/**
 * Decide which queued tasks go to which devices now. Walks the queue in
 * dispatch order (priority with aging, FIFO within a level) and gives each
 * task the best available device that matches it.
 *
 * - A task in retry backoff (`not_before_ms > now_ms`) is skipped, with no reason.
 * - A task that fits no free device goes to `waiting` with `explainWait`,
 *   computed once per (task_type, requirements) signature per pass; later
 *   tasks with that signature are skipped at the cost of a map lookup, so a
 *   big task that fits nowhere never holds back smaller ones behind it.
 * - The pass stops at `max_assignments`, or once no device has a free slot
 *   and `max_explained` waiting tasks have a reason. Tasks not reached get no
 *   entry in `waiting`: the caller keeps whatever reason they had.
 *
 * Pure: neither the queue nor the snapshots are changed; the caller removes
 * each assigned task from the queue.
 */
export function planDispatch(queue: TaskQueue, devices: readonly DeviceSnapshot[], opts: DispatchOptions): DispatchPlan {
  const pass = new Pass(devices, opts);
  for (const task of queue.ordered(opts.now_ms, opts.aging_step_ms, opts.aging_max_priority)) {
    if (pass.isDone) break;
    if (task.not_before_ms !== null && task.not_before_ms > opts.now_ms) continue;
    pass.consider(task);
  }
  return pass.plan;
}
