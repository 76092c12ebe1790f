/**
 * The Store is the only place with SQL. The master talks to it through this
 * interface so that tests and future backends can swap it.
 * Times are epoch milliseconds (UTC); JSON columns are stored as TEXT.
 */
export type DeviceState = 'online' | 'suspect' | 'offline';

export interface DeviceProfile {
  hostname: string | null;
  role: string;
  tags: string[];
  platform: string | null;
  arch: string | null;
  cpu_count: number | null;
  cpu_model: string | null;
  memory_total_gb: number | null;
  storage_total_gb: number | null;
  gpu: boolean | null;
  max_tasks: number;
  task_types: string[];
  node_version: string | null;
  protocol_version: string | null;
  /** Everything else the device sent at register, normalised to snake_case JSON. */
  extra: Record<string, unknown>;
}

export interface DeviceRecord {
  device_id: string;
  profile: DeviceProfile;
  ip_address: string | null;
  state: DeviceState;
  first_seen_ms: number;
  last_seen_ms: number;
  registered_at_ms: number;
  /** Latest heartbeat metrics as sent (already normalised), or null before the first. */
  last_metrics: Record<string, unknown> | null;
  /**
   * Whether the device is drained, as stored: loadDevices fills it, upsertDevice
   * ignores it (only setDeviceDrained writes it). The registry's isDrained() is
   * the live value.
   */
  drained?: boolean;
}

export interface HeartbeatRow {
  device_id: string;
  ts_ms: number;
  metrics: Record<string, unknown>;
}

export interface DeviceEventRow {
  device_id: string;
  ts_ms: number;
  /** e.g. 'registered', 'state_changed', 'connected', 'disconnected' */
  kind: string;
  detail: Record<string, unknown>;
}

export interface DeviceCredential {
  secret: string;
  revoked: boolean;
}

/** Per-device secrets (PROTOCOL §4.8). */
export interface CredentialStore {
  getDeviceCredential(deviceId: string): DeviceCredential | null;
  setDeviceCredential(deviceId: string, secret: string): void;
  /** Lock the device out for good (its row stays, so the id cannot enrol again). */
  revokeDevice(deviceId: string): void;
}

export interface Store extends TaskStore, CredentialStore {
  /** Every device ever registered, with its last known state. */
  loadDevices(): DeviceRecord[];
  /** Insert or replace the device row (profile, ip, state, seen times, last_metrics). */
  upsertDevice(device: DeviceRecord): void;
  /**
   * Persist a batch of heartbeats in ONE transaction: append history rows and
   * update each device's last_seen_ms and last_metrics.
   */
  recordHeartbeats(rows: readonly HeartbeatRow[]): void;
  /**
   * Append heartbeat history only (one transaction), leaving the device rows
   * alone: updating 10k scattered device rows per batch is what made
   * heartbeats expensive, so the registry touches them separately, less often.
   */
  appendHeartbeats(rows: readonly HeartbeatRow[]): void;
  /** Update last_seen_ms / last_metrics of these devices (one transaction); never moves last_seen back. */
  touchDevices(rows: readonly HeartbeatRow[]): void;
  /** Persist state changes (and other device events) in one transaction. */
  recordDeviceEvents(events: readonly DeviceEventRow[]): void;
  /** Set a device's stored state (called together with a 'state_changed' event). */
  updateDeviceStates(changes: ReadonlyArray<{ device_id: string; state: DeviceState }>): void;
  /** Persist the drained flag; false when no such device is stored. */
  setDeviceDrained(deviceId: string, drained: boolean): boolean;
  /** Newest first. */
  recentHeartbeats(deviceId: string, limit: number): HeartbeatRow[];
  /** Newest first. */
  recentDeviceEvents(deviceId: string, limit: number): DeviceEventRow[];
  /**
   * Delete heartbeat history older than the cutoff, oldest first, at most
   * `maxRows` rows (all when omitted); returns rows deleted. Slicing keeps
   * each call short so the event loop is never blocked for long.
   */
  pruneHeartbeats(olderThanMs: number, maxRows?: number): number;
  /** PRAGMA quick_check; returns 'ok' or the problems found. */
  quickCheck(): string;
  close(): void;
}

// ---------------------------------------------------------------- tasks

/** One status union used everywhere (PROTOCOL §11). */
export const TASK_STATUSES = ['queued', 'assigned', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const FINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['succeeded', 'failed', 'timed_out', 'cancelled']);
export const ACTIVE_STATUSES: readonly TaskStatus[] = ['queued', 'assigned', 'running'];
export type ActiveStatus = 'queued' | 'assigned' | 'running';
export type FinalStatus = Exclude<TaskStatus, ActiveStatus>;

/** Lowest first; the index is the level used for ordering and aging. */
export const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type Priority = (typeof PRIORITIES)[number];

export interface TaskRequirements {
  min_cpu_cores?: number;
  min_memory_gb?: number;
  min_storage_gb?: number;
  platform?: string;
  arch?: string;
  role?: string;
  /** The device must carry all of them. */
  tags?: string[];
  gpu?: boolean;
  /** Pin to one device. */
  device_id?: string;
  min_battery_percent?: number;
  requires_charging?: boolean;
}

export interface TaskResult {
  output: string;
  exit_code: number | null;
  error: string | null;
  duration_s: number;
  truncated: boolean;
}

export interface TaskRecord {
  /** UUIDv7: time-ordered, so inserts append to the B-tree. */
  task_id: string;
  task_type: string;
  payload: Record<string, unknown>;
  priority: Priority;
  requirements: TaskRequirements;
  timeout_s: number;
  max_retries: number;
  idempotency_key: string | null;
  labels: Record<string, string>;
  status: TaskStatus;
  device_id: string | null;
  /** Number of the current (or last) assignment; results must name it. */
  attempts: number;
  /** Retries used by failures and timeouts (device loss uses none). */
  retries: number;
  created_at_ms: number;
  assigned_at_ms: number | null;
  started_at_ms: number | null;
  finished_at_ms: number | null;
  /** A retry waits until this time before it may be assigned again. */
  not_before_ms: number | null;
  /** Why a queued task is not placed yet (human-readable). */
  wait_reason: string | null;
  result: TaskResult | null;
}

/** Exceptional history only (retries, requeues, late results, cancels); the happy path is in the timestamps. */
export interface TaskEventRow {
  task_id: string;
  ts_ms: number;
  kind: string;
  attempt: number | null;
  device_id: string | null;
  detail: Record<string, unknown>;
}

export interface TaskListFilter {
  /** Any of these; an empty list matches nothing. */
  statuses?: readonly TaskStatus[];
  device_id?: string;
  task_type?: string;
  /** Clamped to 1..1000. */
  limit: number;
  /** Keyset pagination: only tasks with task_id < before (newest first). */
  before?: string;
}

/** All the task writes of one scheduling step, committed in ONE transaction. */
export interface TaskChanges {
  inserts?: readonly TaskRecord[];
  /** Full rows: every mutable column is written. */
  updates?: readonly TaskRecord[];
  events?: readonly TaskEventRow[];
}

export interface ActiveTaskPage {
  afterId: string | null;
  upToId: string;
  limit: number;
}

export interface TaskStore {
  commitTaskChanges(changes: TaskChanges): void;
  /**
   * Optional: commit updates and events off the event loop; `done` runs once
   * they are durable (or with the error). False means "not available here":
   * use commitTaskChanges. Reads and commitTaskChanges wait for these first.
   */
  commitTaskChangesInBackground?(changes: Pick<TaskChanges, 'updates' | 'events'>, done: (err: Error | null) => void): boolean;
  /** Optional: block until every background commit is done (their `done` callbacks run first). */
  settleTaskCommits?(): void;
  getTask(taskId: string): TaskRecord | null;
  findTaskByIdempotencyKey(key: string): TaskRecord | null;
  /** Newest first. */
  listTasks(filter: TaskListFilter): TaskRecord[];
  /**
   * queued, assigned and running tasks, oldest first: the state to rebuild at
   * startup. With `page`, only ids in (afterId, upToId], at most `limit`.
   */
  loadActiveTasks(page?: ActiveTaskPage): TaskRecord[];
  /** The newest task id, or null when there are no tasks. */
  lastTaskId(): string | null;
  /** Oldest first: in the order recorded, whatever their ts_ms. */
  taskEvents(taskId: string, limit: number): TaskEventRow[];
  countTasksByStatus(): Record<TaskStatus, number>;
  /** Unfinished tasks by status, read from the partial index over them (not the whole table). */
  countActiveTasks(): Record<ActiveStatus, number>;
  /** Tasks whose finished_at_ms is at or after `sinceMs`, by (final) status; every final status is present. */
  countFinishedSince(sinceMs: number): Record<FinalStatus, number>;
}
