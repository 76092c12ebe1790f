import type { RegisterAuth } from './auth.js';

/**
 * Wire message types. PROTOCOL.md is the normative text; the JSON Schemas in
 * protocol/schema/ are the machine-checked form. These types mirror them.
 */
export const PROTOCOL_VERSION = '1.0';

export const MESSAGE_TYPES = [
  'register',
  'heartbeat',
  'ack',
  'error',
  'task_assign',
  'task_result',
  'task_progress',
  'task_cancel',
  'status',
  'list_devices',
  'device_info',
] as const;

export type MessageType = (typeof MESSAGE_TYPES)[number];

export function isMessageType(value: unknown): value is MessageType {
  return typeof value === 'string' && (MESSAGE_TYPES as readonly string[]).includes(value);
}

/** The sender id the master uses on every frame it sends. */
export const MASTER_ID = 'master';

export interface Envelope<T extends MessageType = MessageType, D = Record<string, unknown>> {
  message_type: T;
  sender_id: string;
  receiver_id: string | null;
  message_id: string;
  /** ISO 8601. We send UTC (`Z`); naive timestamps from old peers are accepted. */
  timestamp: string;
  data: D;
}

export interface HardwareInfo {
  cpu_count?: number | null;
  cpu_model?: string | null;
  memory_total_gb?: number | null;
  storage_total_gb?: number | null;
  gpu?: boolean | null;
  gpu_model?: string | null;
  has_battery?: boolean | null;
}

export interface OsInfo {
  platform?: string | null;
  distro?: string | null;
  release?: string | null;
  kernel?: string | null;
}

export interface BatteryState {
  percent?: number | null;
  charging?: boolean | null;
  /** On external power (Termux reports it apart from charging). */
  plugged?: boolean | null;
  temperature_c?: number | null;
  /** As the OS says it, e.g. `GOOD`, `OVERHEAT`. */
  health?: string | null;
}

/** Register data as our worker sends it. Old peers may put hardware at the top level. */
export interface RegisterData {
  protocol_version?: string | number;
  device_id?: string;
  hostname?: string;
  role?: string;
  tags?: string[];
  platform?: string;
  arch?: string;
  hardware?: HardwareInfo;
  os?: OsInfo;
  battery?: BatteryState | null;
  node_version?: string;
  capabilities?: string[] | Record<string, string[]>;
  task_types?: string[];
  max_tasks?: number;
  running_tasks?: Array<{ task_id: string; attempt: number }>;
  /** What the device looks like (PROTOCOL §5.1); null when it cannot tell. */
  device_kind?: 'termux' | 'raspberry_pi' | 'laptop' | 'server' | null;
  device_model?: string | null;
  /** PROTOCOL §4.8 */
  auth?: RegisterAuth;
  // Legacy top-level hardware (original Python worker).
  cpu_count?: number | null;
  memory_total_gb?: number | null;
  storage_total_gb?: number | null;
  [key: string]: unknown;
}

export interface HeartbeatMetrics {
  cpu_usage?: number | null;
  memory_usage?: number | null;
  disk_usage?: number | null;
  /** Legacy name for disk_usage (original Python worker). */
  storage_usage?: number | null;
  load_average?: number[] | null;
  uptime_s?: number | null;
  battery?: BatteryState | null;
  temperature_c?: number | null;
  active_tasks?: number;
  /** The worker takes no new task now (PROTOCOL §5.2); `pause_reason` says why, for people. */
  paused?: boolean;
  pause_reason?: string | null;
  [key: string]: unknown;
}

export interface HeartbeatData {
  device_id?: string;
  metrics?: HeartbeatMetrics;
  /** false: the master answers only errors, never an ack (PROTOCOL §5.2 quiet heartbeats). */
  reply?: boolean;
  [key: string]: unknown;
}

export interface AckData {
  original_message_id: string;
  result: { success: boolean; [key: string]: unknown };
}

export interface ErrorData {
  original_message_id?: string | null;
  code: string;
  message: string;
  /** Python compatibility: the old peers read `data.error`. */
  error?: string;
  details?: unknown;
}

export interface ListDevicesData {
  status?: 'online' | 'offline' | 'suspect' | 'all';
  role?: string;
}

export interface DeviceInfoData {
  device_id: string;
}

/** `device_killed`: the OS killed the task's process (PROTOCOL §5.11); it is requeued without using a retry. */
export type WireTaskStatus = 'succeeded' | 'failed' | 'timed_out' | 'cancelled' | 'device_killed';

/** PROTOCOL §5.9 */
export interface TaskAssignData {
  task_id: string;
  attempt: number;
  task_type: string;
  payload: Record<string, unknown>;
  timeout_s: number;
  priority?: 'low' | 'normal' | 'high' | 'urgent';
  lease_s?: number;
  labels?: Record<string, string>;
  /** PROTOCOL §5.9 quiet assignments: false = acknowledge only a refusal. */
  reply?: boolean;
}

/** PROTOCOL §5.10 */
export interface TaskProgressData {
  task_id: string;
  attempt: number;
  event: 'started' | 'output';
  stream?: 'stdout' | 'stderr';
  line?: string;
  seq?: number;
}

/** PROTOCOL §5.11 */
export interface TaskResultData {
  task_id: string;
  attempt: number;
  status: WireTaskStatus;
  result: { output: string; exit_code: number | null; error: string | null; duration_s: number; truncated: boolean };
}

/** PROTOCOL §5.12 */
export interface TaskCancelData {
  task_id: string;
  attempt?: number;
  reason?: string;
}
