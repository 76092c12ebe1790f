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

export interface Store {
  /** Every device ever registered, with its last known state. */
  loadDevices(): DeviceRecord[];
  /** Insert or replace the device row (profile, ip, state, seen times, last_metrics). */
  upsertDevice(device: DeviceRecord): void;
  /**
   * Persist a batch of heartbeats in ONE transaction: append history rows and
   * update each device's last_seen_ms and last_metrics.
   */
  recordHeartbeats(rows: readonly HeartbeatRow[]): void;
  /** Persist state changes (and other device events) in one transaction. */
  recordDeviceEvents(events: readonly DeviceEventRow[]): void;
  /** Set a device's stored state (called together with a 'state_changed' event). */
  updateDeviceStates(changes: ReadonlyArray<{ device_id: string; state: DeviceState }>): void;
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
