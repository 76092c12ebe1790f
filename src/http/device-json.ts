import { toDeviceView, type DeviceView } from '../master/device-view.js';
import type { DeviceRegistry } from '../master/registry.js';
import { pauseOf } from './routes/devices-text.js';
import type { TaskService } from '../master/tasks/task-service.js';
import type { DeviceEventRow, DeviceRecord, HeartbeatRow } from '../store/store.js';

/** The device object of the JSON API: PROTOCOL §5.5 plus what only the master knows. */
export interface ApiDevice extends DeviceView {
  /** Takes no new tasks; the ones it has finish. */
  drained: boolean;
  /** Tasks assigned to or running on it now. */
  active_tasks: number;
  /** Connection drops within the flap window, and whether they make it `unstable`. */
  flaps: number;
  unstable: boolean;
  /** It takes no new task by its own policy (battery, heat, shutting down), and why. */
  paused: boolean;
  pause_reason: string | null;
  /** What it looks like (PROTOCOL §5.1): termux, raspberry_pi, laptop, server; null if it could not tell. */
  device_kind: string | null;
  device_model: string | null;
}

export function toApiDevice(device: DeviceRecord, deps: { registry: DeviceRegistry; tasks: TaskService }): ApiDevice {
  return {
    ...toDeviceView(device, deps.registry.isConnected(device.device_id)),
    drained: deps.registry.isDrained(device.device_id),
    active_tasks: deps.tasks.activeCountOn(device.device_id),
    flaps: deps.registry.flapCount(device.device_id),
    unstable: deps.registry.isUnstable(device.device_id),
    paused: pauseOf(device) !== null,
    pause_reason: pauseOf(device),
    device_kind: stringOrNull(device.profile.extra['device_kind']),
    device_model: stringOrNull(device.profile.extra['device_model']),
  };
}

function stringOrNull(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** The shape `device_info` already uses on the wire (§5.8). */
export function toHeartbeatJson(row: HeartbeatRow): { timestamp: string; metrics: Record<string, unknown> } {
  return { timestamp: new Date(row.ts_ms).toISOString(), metrics: row.metrics };
}

export function toDeviceEventJson(row: DeviceEventRow): { timestamp: string; kind: string; detail: Record<string, unknown> } {
  return { timestamp: new Date(row.ts_ms).toISOString(), kind: row.kind, detail: row.detail };
}
