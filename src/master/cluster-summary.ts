import type { DeviceRecord, FinalStatus, Priority } from '../store/store.js';

export interface ClusterStats {
  total_devices: number;
  online_devices: number;
  suspect_devices: number;
  offline_devices: number;
  total_resources: { cpu_cores: number; memory_gb: number; storage_gb: number };
  by_role: Record<string, number>;
  by_platform: Record<string, number>;
}

/** Totals over the given devices; resources count online devices only (what can run work now). */
export function summarizeCluster(devices: readonly DeviceRecord[]): ClusterStats {
  const stats: ClusterStats = {
    total_devices: devices.length,
    online_devices: 0,
    suspect_devices: 0,
    offline_devices: 0,
    total_resources: { cpu_cores: 0, memory_gb: 0, storage_gb: 0 },
    by_role: {},
    by_platform: {},
  };
  for (const d of devices) {
    stats[`${d.state}_devices`]++;
    increment(stats.by_role, d.profile.role);
    increment(stats.by_platform, d.profile.platform ?? 'unknown');
    if (d.state !== 'online') continue;
    stats.total_resources.cpu_cores += d.profile.cpu_count ?? 0;
    stats.total_resources.memory_gb += d.profile.memory_total_gb ?? 0;
    stats.total_resources.storage_gb += d.profile.storage_total_gb ?? 0;
  }
  stats.total_resources.memory_gb = round2(stats.total_resources.memory_gb);
  stats.total_resources.storage_gb = round2(stats.total_resources.storage_gb);
  return stats;
}

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** What `buildClusterStatus` needs; the caller reads it from the registry, task service and store. */
export interface ClusterStatusInput {
  devices: readonly DeviceRecord[];
  drainedCount: number;
  queued: Record<Priority, number>;
  active: { assigned: number; running: number };
  finishedLastHour: Record<FinalStatus, number>;
  uptimeS: number;
  version: string;
  dataDirBytes: number;
  nowMs: number;
}

/** GET /api/v1/cluster/status (and, flattened, /text/status). */
export interface ClusterStatus {
  devices: { online: number; suspect: number; offline: number; total: number; drained: number };
  /** Online devices only: what can run work now. */
  resources: ClusterStats['total_resources'];
  /** Queued tasks by their own priority, most urgent first. */
  queue: Record<Priority, number>;
  tasks: { assigned: number; running: number };
  finished_last_hour: Record<FinalStatus, number>;
  uptime_s: number;
  version: string;
  data_dir_bytes: number;
  timestamp: string;
}

/** The cluster's figures in one object; pure, so the arithmetic is unit-tested without a master. */
export function buildClusterStatus(input: ClusterStatusInput): ClusterStatus {
  const stats = summarizeCluster(input.devices);
  return {
    devices: {
      online: stats.online_devices,
      suspect: stats.suspect_devices,
      offline: stats.offline_devices,
      total: stats.total_devices,
      drained: input.drainedCount,
    },
    resources: stats.total_resources,
    queue: { urgent: input.queued.urgent, high: input.queued.high, normal: input.queued.normal, low: input.queued.low },
    tasks: { assigned: input.active.assigned, running: input.active.running },
    finished_last_hour: { ...input.finishedLastHour },
    uptime_s: input.uptimeS,
    version: input.version,
    data_dir_bytes: input.dataDirBytes,
    timestamp: new Date(input.nowMs).toISOString(),
  };
}
