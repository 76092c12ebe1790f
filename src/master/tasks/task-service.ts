import { EventEmitter } from 'node:events';
import type { Clock } from '../../common/clock.js';
import { RcError, shuttingDown, type RcError as RcErrorType } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { createMessage } from '../../protocol/codec.js';
import { BUILTIN_TASK_TYPES } from '../../protocol/task-payloads.js';
import { MASTER_ID, type Envelope, type MessageType, type TaskProgressData, type TaskResultData } from '../../protocol/types.js';
import { planDispatch } from '../../scheduler/dispatch.js';
import { DEFAULT_MAX_EXPLAINED, DEFAULT_WEIGHTS } from '../../scheduler/types.js';
import { ACTIVE_STATUSES, type Store, type TaskEventRow, type TaskListFilter, type TaskRecord, type TaskResult } from '../../store/store.js';
import type { DeviceRegistry } from '../registry.js';
import { ActiveTasks } from './active-tasks.js';
import { CommitBuffer } from './commit-buffer.js';
import { toSnapshot } from './device-snapshots.js';
import { DeviceHealth } from './device-health.js';
import { newTaskRecord, parseTaskSpec } from './task-spec.js';
import { synthesizeHistory, type HistoryEntry } from './task-history.js';

export interface TaskServiceConfig {
  lost_after_s: number;
  lease_s: number;
  task_timeout_grace_s: number;
  aging_step_s: number;
  retry_base_s: number;
  retry_max_s: number;
  /** The wire's line limit: a payload must leave room for the task_assign envelope. */
  max_line_bytes: number;
}

export interface TaskServiceDeps {
  store: Store;
  registry: DeviceRegistry;
  clock: Clock;
  log: Logger;
  config: TaskServiceConfig;
  /** Queue a message on the device's live connection; false if it has none. */
  send(deviceId: string, message: Envelope<MessageType, object>): boolean;
  isConnected(deviceId: string): boolean;
}

export type ResultReply = (outcome: { recorded: boolean; status?: string } | RcErrorType) => void;

/** Room left in a frame for the task_assign envelope around the payload. */
const ASSIGN_ENVELOPE_BYTES = 16 * 1024;
/** Requeues that use no retry are still capped, so a task that kills every device it lands on ends. */
const MAX_ATTEMPTS_FLOOR = 20;
const MAX_ASSIGNMENTS_PER_PASS = 5000;
/**
 * Wait reasons are for people reading a task; on a busy, full cluster a pass
 * runs every turn, and explaining 1,000 waiting tasks each time was a tenth
 * of the master's CPU. Passes within this many ms of the last explaining one
 * stop once no device is free.
 */
const EXPLAIN_EVERY_MS = 250;
/** Active tasks read per turn of the event loop at startup. */
const LOAD_PAGE_SIZE = 5000;

/**
 * The task state machine (PROTOCOL §11): submit, place, dispatch, results,
 * retries, leases, timeouts, device loss, cancel. Memory holds the unfinished
 * tasks; every change goes through the CommitBuffer before anything that
 * depends on it leaves the master. Emits 'task' (TaskRecord) on each state change.
 */
export class TaskService extends EventEmitter {
  readonly #deps: TaskServiceDeps;
  readonly #active = new ActiveTasks();
  readonly #commit: CommitBuffer;
  readonly #health = new DeviceHealth();
  readonly #lastAssigned = new Map<string, number>();
  readonly #knownTypes = new Set<string>(BUILTIN_TASK_TYPES);
  /** Assignments a worker may still refuse, by message_id; with quiet assignments no ack clears them, so the task's news does. */
  readonly #pendingAssigns = new Map<string, { task_id: string; attempt: number; sent_ms: number }>();
  readonly #assignMessageOf = new Map<string, string>();
  /** Final tasks whose last write is not committed yet: reads must not fall back to the stale row. */
  readonly #finalUnsaved = new Map<string, TaskRecord>();
  readonly #startedAtMs: number;
  #dispatchScheduled = false;
  #explainedAtMs = Number.NEGATIVE_INFINITY;
  #closed = false;
  /** False until load() has read every active task: dispatch waits for it. */
  #loaded = false;

  constructor(deps: TaskServiceDeps) {
    super();
    this.#deps = deps;
    this.#commit = new CommitBuffer(deps.store, deps.log);
    this.#startedAtMs = deps.clock.now();
  }

  /**
   * Rebuild memory from the store (after a restart, `kill -9` included), a
   * page per turn of the event loop: with 100k queued tasks reading them
   * takes about a second, and HTTP answers meanwhile. Tasks submitted during
   * the load have newer ids than `upToId`, so no page reads them again. Nothing
   * is dispatched until the whole queue is known (its order depends on all of it).
   */
  async load(): Promise<void> {
    for (const device of this.#deps.registry.all()) this.#learnTypes(device.profile.task_types);
    const upToId = this.#deps.store.lastTaskId();
    let afterId: string | null = null;
    while (upToId !== null && !this.#closed) {
      const page = this.#deps.store.loadActiveTasks({ afterId, upToId, limit: LOAD_PAGE_SIZE });
      for (const task of page) if (this.#active.get(task.task_id) === undefined) this.#active.track(task, task.created_at_ms);
      if (page.length < LOAD_PAGE_SIZE) break;
      afterId = page.at(-1)!.task_id;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.#loaded = true;
    this.#deps.log.info({ active: this.#active.size, queued: this.#active.queue.size }, 'tasks loaded');
    this.scheduleDispatch();
  }

  knownTaskTypes(): ReadonlySet<string> {
    return this.#knownTypes;
  }

  queueSizes(): ReturnType<ActiveTasks['queue']['sizeByPriority']> {
    return this.#active.queue.sizeByPriority();
  }

  activeCountOn(deviceId: string): number {
    return this.#active.countOnDevice(deviceId);
  }

  // ------------------------------------------------------------ people

  /** Validate every body, insert all new tasks in ONE transaction, place them; returns them as created. */
  submit(bodies: readonly unknown[]): TaskRecord[] {
    if (this.#closed) throw shuttingDown();
    const now = this.#deps.clock.now();
    const specs = bodies.map((b, i) => parseTaskSpec(b, this.#knownTypes, bodies.length > 1 ? `task [${i}]: ` : ''));
    specs.forEach((spec, i) => this.#checkPayloadSize(spec.payload, bodies.length > 1 ? `task [${i}]: ` : ''));
    const out: TaskRecord[] = [];
    const fresh: TaskRecord[] = [];
    const byKey = new Map<string, TaskRecord>();
    for (const spec of specs) {
      const existing = spec.idempotency_key === undefined ? null : (byKey.get(spec.idempotency_key) ?? this.#findByKey(spec.idempotency_key));
      const task = existing ?? newTaskRecord(spec, now);
      if (!existing) fresh.push(task);
      if (task.idempotency_key !== null) byKey.set(task.idempotency_key, task);
      out.push(task);
    }
    this.#commit.flush();
    this.#deps.store.commitTaskChanges({ inserts: fresh });
    for (const task of fresh) this.#active.track(task, now);
    // The answer shows each task as created; placement below may move it on at once.
    const created = out.map((task) => ({ ...task }));
    if (fresh.length > 0) this.#dispatchNow();
    return created;
  }

  /**
   * Place new work in the same turn as the submit, and send the assignments
   * once they are committed, before the HTTP answer: submit → assign is one
   * handler, not three turns of the event loop.
   */
  #dispatchNow(): void {
    if (this.#closed) return;
    this.#dispatch();
    try {
      this.#commit.flush();
    } catch (err) {
      // The buffer keeps the rows and retries; the submit itself is already on disk.
      this.#deps.log.error({ err }, 'task changes not persisted; will retry');
    }
  }

  cancel(taskId: string): TaskRecord {
    const task = this.#active.get(taskId) ?? this.#loadEarly(taskId);
    if (!task) {
      const known = this.get(taskId);
      if (!known) throw new RcError('RC_ERR_NOT_FOUND', `no task with id ${taskId}`, { status: 404 });
      throw new RcError('RC_ERR_TASK_FINAL', `task ${taskId} is already ${known.status}`, { status: 409 });
    }
    const now = this.#deps.clock.now();
    const previous = task.status;
    const holder = task.device_id === null ? null : { device: task.device_id, attempt: task.attempts };
    this.#event(task, 'cancelled', { previous_status: previous }, now);
    this.#finalize(task, 'cancelled', outcome('cancelled by user', durationS(task, now)), now);
    this.#commit.flush();
    // Only once the cancel is on disk; TCP order puts it after any task_assign already sent.
    if (holder) this.#sendCancel(holder.device, task.task_id, holder.attempt, 'cancelled by user');
    return task;
  }

  get(taskId: string): TaskRecord | null {
    return this.#active.get(taskId) ?? this.#finalUnsaved.get(taskId) ?? this.#deps.store.getTask(taskId);
  }

  list(filter: TaskListFilter): TaskRecord[] {
    this.#flushIfPossible();
    return this.#deps.store.listTasks(filter).map((t) => this.#active.get(t.task_id) ?? this.#finalUnsaved.get(t.task_id) ?? t);
  }

  history(task: TaskRecord): HistoryEntry[] {
    return synthesizeHistory(task, this.#deps.store.taskEvents(task.task_id, 500));
  }

  // ------------------------------------------------------------ wire

  onProgress(deviceId: string, data: TaskProgressData): void {
    const task = this.#current(deviceId, data.task_id, data.attempt);
    if (!task) return;
    if (data.event === 'started' && task.status === 'assigned') {
      this.#forgetAssign(task.task_id);
      task.status = 'running';
      task.started_at_ms = this.#deps.clock.now();
      this.#changed(task);
    } else if (data.event === 'output') {
      this.emit('output', { task_id: task.task_id, attempt: task.attempts, stream: data.stream ?? 'stdout', line: data.line ?? '', seq: data.seq ?? null });
    }
  }

  /** PROTOCOL §5.11: persisted before acknowledged; idempotent per (task_id, attempt). */
  onResult(deviceId: string, data: TaskResultData, reply: ResultReply): void {
    const now = this.#deps.clock.now();
    const task = this.#current(deviceId, data.task_id, data.attempt);
    if (!task) {
      this.#recordLateResult(deviceId, data, now);
      this.#commit.then(() => reply({ recorded: false }), (err) => reply(storeFailure(err)));
      return;
    }
    this.#health.record(deviceId, data.status === 'succeeded');
    this.#finishAttempt(task, data.status, { ...data.result }, now);
    this.#commit.then(() => reply({ recorded: true, status: task.status }), (err) => reply(storeFailure(err)));
    this.scheduleDispatch();
  }

  /** A worker's ack/error to a task_assign (matched by original_message_id). */
  onAssignReply(deviceId: string, reply: Envelope): void {
    const original = reply.data['original_message_id'];
    if (typeof original !== 'string') return;
    const pending = this.#pendingAssigns.get(original);
    if (!pending) return;
    this.#forgetAssign(pending.task_id);
    const refused = reply.message_type === 'error' || (reply.data['result'] as { success?: unknown } | undefined)?.success === false;
    if (!refused) return;
    const task = this.#current(deviceId, pending.task_id, pending.attempt);
    if (!task) return;
    const code = String(reply.data['code'] ?? 'refused');
    const now = this.#deps.clock.now();
    // A worker that cannot run this payload/type will never run it: that is a failure, not a blip.
    if (code === 'RC_ERR_TASK_PAYLOAD' || code === 'RC_ERR_TASK_UNKNOWN_TYPE') {
      this.#finishAttempt(task, 'failed', outcome(`device ${deviceId} refused the task: ${String(reply.data['message'] ?? code)}`, 0), now);
    } else {
      this.#requeue(task, 'refused', now, { code });
    }
    this.scheduleDispatch();
  }

  /** PROTOCOL §11.3: reconcile what the master thinks runs there with what the worker says. */
  onDeviceRegistered(deviceId: string, taskTypes: readonly string[], running: ReadonlyArray<{ task_id: string; attempt: number }>): void {
    this.#learnTypes(taskTypes);
    const held = new Map(running.map((r) => [`${r.task_id}#${r.attempt}`, r]));
    const now = this.#deps.clock.now();
    for (const task of this.#active.onDevice(deviceId)) {
      const key = `${task.task_id}#${task.attempts}`;
      if (held.delete(key)) {
        // Its `started` may have been lost with the old connection: a fresh lease, not a kill.
        if (task.status === 'assigned') task.assigned_at_ms = now;
        continue;
      }
      // An assign may still be in flight on the old connection: cancel it explicitly.
      this.#sendCancel(deviceId, task.task_id, task.attempts, 'not running after reconnect');
      this.#requeue(task, 'not_running_after_reconnect', now, {});
    }
    // Whatever the worker still holds that is no longer its job: stop it.
    for (const r of held.values()) this.#sendCancel(deviceId, r.task_id, r.attempt, 'superseded');
    this.scheduleDispatch();
  }

  /** A revoked device's tasks go elsewhere now; it will not be back. */
  onDeviceRevoked(deviceId: string): void {
    const now = this.#deps.clock.now();
    for (const task of this.#active.onDevice(deviceId)) {
      this.#sendCancel(deviceId, task.task_id, task.attempts, 'device revoked');
      this.#requeue(task, 'device_revoked', now, {});
    }
    this.scheduleDispatch();
  }

  // ------------------------------------------------------------ time

  /** Leases, master-side timeouts, lost devices; then place what can be placed. */
  tick(): void {
    const now = this.#deps.clock.now();
    this.#expireLostDevices(now);
    this.#forgetStaleAssigns(now);
    for (const task of [...this.#active.values()]) {
      if (task.status === 'assigned') this.#checkLease(task, now);
      else if (task.status === 'running') this.#checkTimeout(task, now);
    }
    if (this.#active.queue.size > 0) this.scheduleDispatch();
  }

  /** Reads should see recent changes, but a store refusing writes must not stop reads: memory overlays them. */
  #flushIfPossible(): void {
    try {
      this.#commit.flush();
    } catch {
      // Kept for the commit buffer's retry, which logs it.
    }
  }

  /** False while task commits fail (disk full, I/O error); they are retried until they land. */
  get storeWritable(): boolean {
    return this.#commit.healthy;
  }

  scheduleDispatch(): void {
    if (this.#dispatchScheduled || this.#closed) return;
    this.#dispatchScheduled = true;
    setImmediate(() => {
      this.#dispatchScheduled = false;
      if (!this.#closed) this.#dispatch();
    });
  }

  /** Persist what is pending; called at shutdown. */
  close(): void {
    this.#closed = true;
    this.#commit.close();
    this.#commit.flush();
  }

  // ------------------------------------------------------------ internals

  #dispatch(): void {
    // While the store refuses writes, promise nothing new: assignments would never be sent.
    if (!this.#commit.healthy || !this.#loaded) return;
    // Nothing queued, nothing to place: skip building a snapshot of every device (10k registers would be O(n²)).
    if (this.#active.queue.size === 0) return;
    const now = this.#deps.clock.now();
    const explain = now - this.#explainedAtMs >= EXPLAIN_EVERY_MS;
    if (explain) this.#explainedAtMs = now;
    const plan = planDispatch(this.#active.queue, this.#snapshots(), {
      now_ms: now,
      weights: DEFAULT_WEIGHTS,
      aging_step_ms: this.#deps.config.aging_step_s * 1000,
      aging_max_priority: 'high',
      max_assignments: MAX_ASSIGNMENTS_PER_PASS,
      max_explained: explain ? DEFAULT_MAX_EXPLAINED : 0,
    });
    // Wait reasons live in memory (GET reads active tasks from memory): no write per pass.
    for (const [taskId, reason] of plan.waiting) {
      const task = this.#active.get(taskId);
      if (task) task.wait_reason = reason;
    }
    for (const { task_id, device_id } of plan.assignments) {
      const task = this.#active.get(task_id);
      if (task) this.#assign(task, device_id, now);
    }
    if (plan.assignments.length === MAX_ASSIGNMENTS_PER_PASS) this.scheduleDispatch();
  }

  #snapshots(): ReturnType<typeof toSnapshot>[] {
    // Every dispatch pass builds these; ties in placement break by device id, so no sort is needed.
    return Array.from(this.#deps.registry.all(), (d) =>
      toSnapshot(d, {
        connected: this.#deps.isConnected(d.device_id),
        drained: this.#deps.registry.isDrained(d.device_id),
        unstable: this.#deps.registry.isUnstable(d.device_id),
        active_tasks: this.#active.countOnDevice(d.device_id),
        health: this.#health.score(d.device_id),
        last_assigned_ms: this.#lastAssigned.get(d.device_id) ?? 0,
      }),
    );
  }

  #assign(task: TaskRecord, deviceId: string, now: number): void {
    this.#active.moveToDevice(task, deviceId);
    Object.assign(task, { status: 'assigned', device_id: deviceId, assigned_at_ms: now, started_at_ms: null, not_before_ms: null, wait_reason: null });
    task.attempts += 1;
    this.#lastAssigned.set(deviceId, now);
    this.#changed(task);
    const msg = createMessage('task_assign', {
      task_id: task.task_id,
      attempt: task.attempts,
      task_type: task.task_type,
      payload: task.payload,
      timeout_s: task.timeout_s,
      priority: task.priority,
      lease_s: this.#deps.config.lease_s,
      labels: task.labels,
      // PROTOCOL §5.9: only a refusal is answered; `started` and the result show acceptance.
      reply: false,
    }, { sender: MASTER_ID, receiver: deviceId });
    const attempt = task.attempts;
    this.#commit.then(() => {
      // A cancel, requeue or reconcile in the meantime means this attempt is no longer wanted.
      if (this.#current(deviceId, task.task_id, attempt) === null) return;
      if (!this.#deps.send(deviceId, msg)) return;
      this.#pendingAssigns.set(msg.message_id, { task_id: task.task_id, attempt, sent_ms: this.#deps.clock.now() });
      this.#assignMessageOf.set(task.task_id, msg.message_id);
    });
  }

  #finishAttempt(task: TaskRecord, status: TaskResultData['status'], result: TaskResult, now: number): void {
    if (status === 'succeeded') return this.#finalize(task, 'succeeded', result, now);
    // The worker gave the task up (e.g. it is shutting down): not the task's fault.
    if (status === 'cancelled') return this.#requeue(task, 'abandoned_by_worker', now, { error: result.error });
    // The device's OS killed it (low memory, Android's background limits): not the task's fault either.
    if (status === 'device_killed') return this.#requeue(task, 'device_killed', now, { error: result.error });
    if (task.retries >= task.max_retries) return this.#finalize(task, status, result, now);
    task.retries += 1;
    const delayS = Math.min(this.#deps.config.retry_max_s, this.#deps.config.retry_base_s * 2 ** (task.retries - 1));
    this.#event(task, 'retry_scheduled', { status, exit_code: result.exit_code, error: result.error, retry: task.retries, retry_in_s: delayS }, now);
    this.#toQueue(task, now, now + delayS * 1000);
  }

  #requeue(task: TaskRecord, reason: string, now: number, detail: Record<string, unknown>): void {
    this.#event(task, 'requeued', { reason, ...detail }, now);
    if (task.attempts >= Math.max(MAX_ATTEMPTS_FLOOR, (task.max_retries + 1) * 5)) {
      return this.#finalize(task, 'failed', outcome(`gave up after ${task.attempts} attempts without a result (last: ${reason})`, 0), now);
    }
    this.#toQueue(task, now, null);
  }

  #toQueue(task: TaskRecord, now: number, notBefore: number | null): void {
    this.#forgetAssign(task.task_id);
    task.not_before_ms = notBefore;
    this.#active.moveToQueue(task, now);
    Object.assign(task, { status: 'queued', device_id: null, assigned_at_ms: null, started_at_ms: null });
    this.#changed(task);
  }

  #finalize(task: TaskRecord, status: TaskRecord['status'], result: TaskResult, now: number): void {
    this.#forgetAssign(task.task_id);
    this.#active.forget(task);
    Object.assign(task, { status, result, finished_at_ms: now, wait_reason: null, not_before_ms: null });
    this.#finalUnsaved.set(task.task_id, task);
    this.#commit.then(() => this.#finalUnsaved.delete(task.task_id));
    this.#changed(task);
  }

  #changed(task: TaskRecord): void {
    this.#commit.update(task);
    this.emit('task', task);
  }

  #event(task: TaskRecord, kind: string, detail: Record<string, unknown>, now: number): void {
    const row: TaskEventRow = { task_id: task.task_id, ts_ms: now, kind, attempt: task.attempts, device_id: task.device_id, detail };
    this.#commit.event(row);
    this.#deps.log.info({ task_id: task.task_id, kind, attempt: task.attempts, device_id: task.device_id, ...detail }, `task ${kind}`);
  }

  /** The active task only if this device holds this attempt; anything else is stale news. */
  #current(deviceId: string, taskId: string, attempt: number): TaskRecord | null {
    const task = this.#active.get(taskId);
    if (!task || task.device_id !== deviceId || task.attempts !== attempt || task.status === 'queued') return null;
    return task;
  }

  #recordLateResult(deviceId: string, data: TaskResultData, now: number): void {
    const stored = this.get(data.task_id);
    if (!stored) return;
    // A resend of the result that already won is the normal outbox case: nothing to record.
    if (stored.attempts === data.attempt && stored.device_id === deviceId && stored.status === data.status) return;
    this.#commit.event({ task_id: data.task_id, ts_ms: now, kind: 'late_result', attempt: data.attempt, device_id: deviceId, detail: { status: data.status, exit_code: data.result.exit_code, current_attempt: stored.attempts } });
  }

  #checkLease(task: TaskRecord, now: number): void {
    const deviceId = task.device_id;
    if (deviceId === null || task.assigned_at_ms === null || !this.#deps.isConnected(deviceId)) return;
    if (now - task.assigned_at_ms <= this.#deps.config.lease_s * 1000) return;
    this.#sendCancel(deviceId, task.task_id, task.attempts, 'lease expired');
    this.#requeue(task, 'lease_expired', now, { lease_s: this.#deps.config.lease_s });
    this.scheduleDispatch();
  }

  #checkTimeout(task: TaskRecord, now: number): void {
    if (task.started_at_ms === null || task.device_id === null) return;
    const limitMs = (task.timeout_s + this.#deps.config.task_timeout_grace_s) * 1000;
    if (now - task.started_at_ms <= limitMs) return;
    this.#sendCancel(task.device_id, task.task_id, task.attempts, 'timed out');
    const error = `no result from device ${task.device_id} within timeout_s ${task.timeout_s} + ${this.#deps.config.task_timeout_grace_s} s grace`;
    this.#event(task, 'timed_out_by_master', {}, now);
    this.#finishAttempt(task, 'timed_out', outcome(error, durationS(task, now)), now);
    this.scheduleDispatch();
  }

  /** PROTOCOL §11.4: a device silent for lost_after loses its tasks, without using a retry. */
  #expireLostDevices(now: number): void {
    const lostAfterMs = this.#deps.config.lost_after_s * 1000;
    for (const deviceId of this.#active.devicesWithTasks()) {
      const device = this.#deps.registry.get(deviceId);
      // After a master restart the clock starts at the restart: the device had no chance to speak.
      const lastHeard = Math.max(device?.last_seen_ms ?? 0, this.#startedAtMs);
      if (now - lastHeard <= lostAfterMs) continue;
      this.#deps.log.warn({ device_id: deviceId, silent_s: Math.round((now - lastHeard) / 1000) }, 'device lost; requeueing its tasks');
      for (const task of this.#active.onDevice(deviceId)) {
        // Connected but silent (wedged): tell it to stop, so the task does not run twice.
        if (this.#deps.isConnected(deviceId)) this.#sendCancel(deviceId, task.task_id, task.attempts, 'device lost');
        this.#requeue(task, 'device_lost', now, { lost_after_s: this.#deps.config.lost_after_s });
      }
      this.scheduleDispatch();
    }
  }

  /** A worker that never answers an assign must not grow this map forever. */
  #forgetStaleAssigns(now: number): void {
    const maxAgeMs = 2 * this.#deps.config.lease_s * 1000;
    for (const [id, p] of this.#pendingAssigns) {
      if (now - p.sent_ms <= maxAgeMs) continue;
      this.#pendingAssigns.delete(id);
      if (this.#assignMessageOf.get(p.task_id) === id) this.#assignMessageOf.delete(p.task_id);
    }
  }

  /** The task's assignment can no longer be refused (it started, ended, or left the device). */
  #forgetAssign(taskId: string): void {
    const messageId = this.#assignMessageOf.get(taskId);
    if (messageId === undefined) return;
    this.#assignMessageOf.delete(taskId);
    this.#pendingAssigns.delete(messageId);
  }

  #checkPayloadSize(payload: Record<string, unknown> | undefined, where: string): void {
    const bytes = Buffer.byteLength(JSON.stringify(payload ?? {}));
    const limit = this.#deps.config.max_line_bytes - ASSIGN_ENVELOPE_BYTES;
    if (bytes > limit) {
      throw new RcError('RC_ERR_TASK_PAYLOAD', `${where}payload is ${bytes} bytes; the most a task_assign frame can carry is ${limit} bytes (max_line_bytes ${this.#deps.config.max_line_bytes})`, { status: 400 });
    }
  }

  #sendCancel(deviceId: string, taskId: string, attempt: number, reason: string): void {
    this.#deps.send(deviceId, createMessage('task_cancel', { task_id: taskId, attempt, reason }, { sender: MASTER_ID, receiver: deviceId }));
  }

  /** During the startup load, a task not read yet is read now (the load skips it later). */
  #loadEarly(taskId: string): TaskRecord | undefined {
    if (this.#loaded) return undefined;
    const task = this.#deps.store.getTask(taskId);
    if (task === null || !ACTIVE_STATUSES.includes(task.status)) return undefined;
    this.#active.track(task, task.created_at_ms);
    return task;
  }

  #findByKey(key: string): TaskRecord | null {
    const id = this.#active.idForKey(key);
    return (id === undefined ? null : this.#active.get(id)) ?? this.#deps.store.findTaskByIdempotencyKey(key);
  }

  #learnTypes(types: readonly string[]): void {
    for (const t of types) this.#knownTypes.add(t);
  }
}

function outcome(error: string, durationSeconds: number): TaskResult {
  return { output: '', exit_code: null, error, duration_s: durationSeconds, truncated: false };
}

function durationS(task: TaskRecord, now: number): number {
  return task.started_at_ms === null ? 0 : Math.round(now - task.started_at_ms) / 1000;
}

function storeFailure(err: unknown): RcError {
  return new RcError('RC_ERR_STORE', 'the result could not be stored; send it again later', { status: 503, cause: err });
}
