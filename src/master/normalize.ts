import type { HeartbeatMetrics, RegisterData } from '../protocol/types.js';
import type { DeviceProfile } from '../store/store.js';

const PROFILE_KEYS = new Set([
  'protocol_version', 'device_id', 'hostname', 'role', 'tags', 'platform', 'arch', 'hardware',
  'node_version', 'task_types', 'max_tasks', 'running_tasks', 'cpu_count', 'memory_total_gb',
  'storage_total_gb',
  // Proofs are checked, never stored.
  'auth',
]);
const DEFAULT_ROLE = 'worker';

/**
 * One profile shape from both our register data and the legacy Python one,
 * which puts hardware at the top level and capabilities in an object of lists
 * (PROTOCOL §8).
 */
export function normalizeProfile(data: RegisterData): DeviceProfile {
  const hw = data.hardware ?? {};
  return {
    hostname: data.hostname ?? null,
    role: data.role ?? DEFAULT_ROLE,
    tags: data.tags ?? [],
    platform: data.platform ?? null,
    arch: data.arch ?? null,
    cpu_count: hw.cpu_count ?? data.cpu_count ?? null,
    cpu_model: hw.cpu_model ?? null,
    memory_total_gb: hw.memory_total_gb ?? data.memory_total_gb ?? null,
    storage_total_gb: hw.storage_total_gb ?? data.storage_total_gb ?? null,
    gpu: hw.gpu ?? null,
    max_tasks: data.max_tasks ?? 1,
    task_types: data.task_types ?? [],
    node_version: data.node_version ?? null,
    protocol_version: data.protocol_version === undefined ? null : String(data.protocol_version),
    extra: extraFields(data),
  };
}

function extraFields(data: RegisterData): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (!PROFILE_KEYS.has(key)) extra[key] = value;
  }
  if (data.hardware) extra['hardware'] = data.hardware;
  if (data.capabilities) extra['capabilities'] = flattenCapabilities(data.capabilities);
  return extra;
}

/** `["a","b"]` stays; `{computational:["a"], services:["b"]}` becomes `["a","b"]`. */
export function flattenCapabilities(caps: string[] | Record<string, string[]>): string[] {
  if (Array.isArray(caps)) return [...new Set(caps)];
  return [...new Set(Object.values(caps).flat())];
}

/** Legacy peers call disk usage `storage_usage`; we keep one name. */
export function normalizeMetrics(metrics: HeartbeatMetrics | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(metrics ?? {}) };
  if (out['disk_usage'] === undefined && out['storage_usage'] !== undefined) out['disk_usage'] = out['storage_usage'];
  delete out['storage_usage'];
  return out;
}

/** `"1.0"` → 1; `2` → 2; a missing version is a legacy peer, major 0. */
export function protocolMajor(version: string | number | undefined): number {
  if (version === undefined) return 0;
  const major = Number.parseInt(String(version), 10);
  return Number.isFinite(major) ? major : 0;
}
