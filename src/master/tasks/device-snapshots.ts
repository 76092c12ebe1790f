import type { DeviceSnapshot } from '../../scheduler/types.js';
import type { DeviceRecord } from '../../store/store.js';

export interface SnapshotFacts {
  connected: boolean;
  drained: boolean;
  unstable: boolean;
  active_tasks: number;
  health: number;
  last_assigned_ms: number;
}

/** What the scheduler needs of one device, from its record and the master's live counters. */
export function toSnapshot(device: DeviceRecord, facts: SnapshotFacts): DeviceSnapshot {
  const p = device.profile;
  const m = device.last_metrics ?? {};
  const battery = (m['battery'] ?? null) as { percent?: unknown; charging?: unknown } | null;
  const pauseReason = typeof m['pause_reason'] === 'string' ? m['pause_reason'] : null;
  return {
    device_id: device.device_id,
    state: device.state,
    drained: facts.drained,
    unstable: facts.unstable,
    paused: m['paused'] === true,
    pause_reason: pauseReason,
    connected: facts.connected,
    role: p.role,
    tags: p.tags,
    platform: p.platform,
    arch: p.arch,
    cpu_count: p.cpu_count,
    memory_total_gb: p.memory_total_gb,
    storage_total_gb: p.storage_total_gb,
    gpu: p.gpu,
    task_types: p.task_types,
    max_tasks: p.max_tasks,
    active_tasks: facts.active_tasks,
    cpu_usage: numberOrNull(m['cpu_usage']),
    memory_usage: numberOrNull(m['memory_usage']),
    battery_percent: numberOrNull(battery?.percent),
    charging: typeof battery?.charging === 'boolean' ? battery.charging : null,
    health: facts.health,
    last_assigned_ms: facts.last_assigned_ms,
  };
}

function numberOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
