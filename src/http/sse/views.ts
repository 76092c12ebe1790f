import type { DeviceRecord, TaskRecord } from '../../store/store.js';
import { toTaskView } from '../task-view.js';

/** pino's level names and numbers. */
export const LOG_LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;

export type LogLevelName = keyof typeof LOG_LEVELS;

/** `?level=` accepts a pino level name; returns null for anything else. */
export function parseLevel(name: string): number | null {
  return Object.hasOwn(LOG_LEVELS, name) ? LOG_LEVELS[name as LogLevelName] : null;
}

export function levelName(level: number): string {
  for (const [name, value] of Object.entries(LOG_LEVELS)) if (value === level) return name;
  return String(level);
}

/** The task as streams carry it: the API view without payload or result output, to keep events small. */
export function compactTaskView(task: TaskRecord): Record<string, unknown> {
  const { payload: _payload, ...view } = toTaskView(task);
  const r = task.result;
  return { ...view, result: r === null ? null : { exit_code: r.exit_code, error: r.error, duration_s: r.duration_s, truncated: r.truncated } };
}

/** One live output line of a task, as TaskService emits it. */
export interface TaskOutputLine {
  task_id: string;
  attempt: number;
  stream: string;
  line: string;
  seq: number | null;
}

/** One device in a `heartbeats` summary. */
export interface HeartbeatDevice {
  device_id: string;
  cpu_usage: number | null;
  memory_usage: number | null;
  battery: unknown;
  temperature_c: number | null;
  active_tasks: number | null;
}

export function toHeartbeatDevice(device: DeviceRecord, masterActiveTasks: number): HeartbeatDevice {
  const m = device.last_metrics ?? {};
  return {
    device_id: device.device_id,
    cpu_usage: numberOrNull(m['cpu_usage']),
    memory_usage: numberOrNull(m['memory_usage']),
    battery: m['battery'] ?? null,
    temperature_c: numberOrNull(m['temperature_c']),
    // What the worker says it runs; the master's own count when it says nothing.
    active_tasks: numberOrNull(m['active_tasks']) ?? masterActiveTasks,
  };
}

function numberOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
