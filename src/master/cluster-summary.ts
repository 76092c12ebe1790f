import type { DeviceRecord } from '../store/store.js';

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
