import type { DeviceRecord, DeviceState } from '../../store/store.js';

/** At most this many devices get per-device series (cardinality bound). */
export const MAX_DEVICE_SERIES = 2000;

export interface DeviceGaugeRow {
  device_id: string;
  cpu_usage: number | null;
  memory_usage: number | null;
  battery_percent: number | null;
  temperature_c: number | null;
}

export interface DeviceSnapshot {
  byState: Record<DeviceState, number>;
  /** Devices that are not offline and have sent metrics, by device id, at most `MAX_DEVICE_SERIES`. */
  rows: DeviceGaugeRow[];
  /** Devices that would have had per-device series but were cut by the cap. */
  omitted: number;
}

/** One pass over the registry's list (sorted by device id, so the cap keeps the same devices). */
export function snapshotDevices(devices: readonly DeviceRecord[], cap = MAX_DEVICE_SERIES): DeviceSnapshot {
  const byState: Record<DeviceState, number> = { online: 0, suspect: 0, offline: 0 };
  const rows: DeviceGaugeRow[] = [];
  let omitted = 0;
  for (const d of devices) {
    byState[d.state] += 1;
    const m = d.last_metrics;
    if (d.state === 'offline' || m === null) continue;
    if (rows.length >= cap) {
      omitted += 1;
      continue;
    }
    const battery = m['battery'];
    rows.push({
      device_id: d.device_id,
      cpu_usage: finite(m['cpu_usage']),
      memory_usage: finite(m['memory_usage']),
      battery_percent: battery !== null && typeof battery === 'object' ? finite((battery as Record<string, unknown>)['percent']) : null,
      temperature_c: finite(m['temperature_c']),
    });
  }
  return { byState, rows, omitted };
}

function finite(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
