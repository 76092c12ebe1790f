import type { DeviceRecord, DeviceState } from '../store/store.js';

/** The public shape of a device on the wire and in the JSON API (PROTOCOL §5, "device object"). */
export interface DeviceView {
  device_id: string;
  status: DeviceState;
  connected: boolean;
  role: string;
  hostname: string | null;
  platform: string | null;
  arch: string | null;
  tags: string[];
  cpu_count: number | null;
  cpu_model: string | null;
  memory_total_gb: number | null;
  storage_total_gb: number | null;
  gpu: boolean | null;
  max_tasks: number;
  task_types: string[];
  ip_address: string | null;
  first_seen: string;
  last_seen: string;
  metrics: Record<string, unknown> | null;
}

export function toDeviceView(device: DeviceRecord, connected: boolean): DeviceView {
  const p = device.profile;
  return {
    device_id: device.device_id,
    status: device.state,
    connected,
    role: p.role,
    hostname: p.hostname,
    platform: p.platform,
    arch: p.arch,
    tags: p.tags,
    cpu_count: p.cpu_count,
    cpu_model: p.cpu_model,
    memory_total_gb: p.memory_total_gb,
    storage_total_gb: p.storage_total_gb,
    gpu: p.gpu,
    max_tasks: p.max_tasks,
    task_types: p.task_types,
    ip_address: device.ip_address,
    first_seen: new Date(device.first_seen_ms).toISOString(),
    last_seen: new Date(device.last_seen_ms).toISOString(),
    metrics: device.last_metrics,
  };
}
