import type { TaskRequirements } from '../store/store.js';
import { formatAmount, isAvailable, matchDevice } from './matcher.js';
import type { DeviceSnapshot, MatchResult } from './types.js';

type FailKey = Extract<MatchResult, { ok: false }>['key'];

/** Reasons are shown in `rc task show` and the HTTP API; longer ones are cut here. */
export const MAX_WAIT_REASON_CHARS = 200;
/** At most this many devices or values are named in one reason. */
const MAX_LISTED = 6;
/** At most this many different failure causes are summarised. */
const MAX_CAUSES = 3;

function truncate(text: string): string {
  return text.length <= MAX_WAIT_REASON_CHARS ? text : `${text.slice(0, MAX_WAIT_REASON_CHARS - 1)}…`;
}

function list(items: readonly string[]): string {
  const shown = items.slice(0, MAX_LISTED).join(', ');
  return items.length > MAX_LISTED ? `${shown}, …` : shown;
}

/** Can talk to the master now; `suspect` and disconnected devices cannot take work. */
function isOnline(d: DeviceSnapshot): boolean {
  return d.state === 'online' && d.connected;
}

function blockedStatus(d: DeviceSnapshot): string {
  if (d.drained) return 'drained';
  const why = d.pause_reason ?? (d.battery_percent !== null ? `battery ${formatAmount(d.battery_percent)}%` : null);
  return why === null ? 'paused' : `paused (${why})`;
}

function slots(ds: readonly DeviceSnapshot[]): string {
  const used = ds.reduce((n, d) => n + d.active_tasks, 0);
  const total = ds.reduce((n, d) => n + d.max_tasks, 0);
  return `${used}/${total} slots in use`;
}

// ------------------------------------------------------------ pinned task

function explainPinned(taskType: string, req: TaskRequirements, id: string, devices: readonly DeviceSnapshot[]): string {
  const d = devices.find((x) => x.device_id === id);
  if (d === undefined) return `device ${id} is not registered`;
  if (d.state !== 'online') return `device ${id} is ${d.state}`;
  if (!d.connected) return `device ${id} is not connected`;
  const match = matchDevice(taskType, req, d);
  if (!match.ok) return `device ${id} does not fit: ${match.reason}`;
  if (d.drained || d.paused) return `device ${id} is ${blockedStatus(d)}`;
  if (!isAvailable(d)) return `device ${id} is busy (${slots([d])})`;
  return `device ${id} has a free slot; waiting for the next dispatch pass`;
}

// ------------------------------------------------------------ no online device fits

const SHELL_HINT = ' (start a worker with --allow shell)';

/** Why no online device fits when every one of them fails on the same key. */
function explainOneKey(key: FailKey, taskType: string, req: TaskRequirements, online: readonly DeviceSnapshot[]): string {
  const n = `${online.length} online`;
  const nums = (pick: (d: DeviceSnapshot) => number | null, unit = ''): string =>
    `${n}: ${list(online.map((d) => { const v = pick(d); return v === null ? '?' : formatAmount(v); }))}${unit}`;
  const names = (pick: (d: DeviceSnapshot) => string | null): string =>
    `${n}: ${list([...new Set(online.map((d) => pick(d) ?? 'unknown'))].sort())}`;
  switch (key) {
    case 'task_type':
      return `no online device accepts task type "${taskType}"${taskType === 'shell' ? SHELL_HINT : ''}`;
    case 'min_memory_gb':
      return `no online device has ≥ ${formatAmount(req.min_memory_gb ?? 0)} GB memory (${nums((d) => d.memory_total_gb, ' GB')})`;
    case 'min_cpu_cores':
      return `no online device has ≥ ${formatAmount(req.min_cpu_cores ?? 0)} CPU cores (${nums((d) => d.cpu_count)})`;
    case 'min_storage_gb':
      return `no online device has ≥ ${formatAmount(req.min_storage_gb ?? 0)} GB storage (${nums((d) => d.storage_total_gb, ' GB')})`;
    case 'min_battery_percent':
      return `no online device has ≥ ${formatAmount(req.min_battery_percent ?? 0)}% battery (${nums((d) => d.battery_percent, '%')})`;
    case 'platform':
      return `no online device has platform ${req.platform ?? '?'} (${names((d) => d.platform)})`;
    case 'arch':
      return `no online device has arch ${req.arch ?? '?'} (${names((d) => d.arch)})`;
    case 'role':
      return `no online device has role ${req.role ?? '?'} (${names((d) => d.role)})`;
    case 'tags':
      return `no online device has all tags ${list(req.tags ?? [])}`;
    case 'gpu':
      return req.gpu === true ? 'no online device has a GPU' : 'every online device has a GPU';
    case 'requires_charging':
      return 'no online device is charging';
    case 'device_id':
      return `no online device is ${req.device_id ?? '?'}`;
  }
}

/** A short label for one failure cause, for the mixed summary. */
function causeLabel(key: FailKey, taskType: string, req: TaskRequirements): string {
  switch (key) {
    case 'task_type': return `task type "${taskType}" not accepted`;
    case 'min_memory_gb': return `memory < ${formatAmount(req.min_memory_gb ?? 0)} GB`;
    case 'min_cpu_cores': return `CPU cores < ${formatAmount(req.min_cpu_cores ?? 0)}`;
    case 'min_storage_gb': return `storage < ${formatAmount(req.min_storage_gb ?? 0)} GB`;
    case 'min_battery_percent': return `battery < ${formatAmount(req.min_battery_percent ?? 0)}%`;
    case 'platform': return `platform not ${req.platform ?? '?'}`;
    case 'arch': return `arch not ${req.arch ?? '?'}`;
    case 'role': return `role not ${req.role ?? '?'}`;
    case 'tags': return `missing tags`;
    case 'gpu': return req.gpu === true ? 'no GPU' : 'has a GPU';
    case 'requires_charging': return 'not charging';
    case 'device_id': return 'another device';
  }
}

/** Most common causes first; ties in the matcher's check order (first seen). */
function explainMixed(keys: readonly FailKey[], taskType: string, req: TaskRequirements): string {
  const counts = new Map<FailKey, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  const ranked = [...counts].sort((a, b) => b[1] - a[1]);
  const shown = ranked.slice(0, MAX_CAUSES).map(([k, c]) => `${causeLabel(k, taskType, req)} (${c})`);
  const more = ranked.length > MAX_CAUSES ? ', …' : '';
  return `none of ${keys.length} online devices fits: ${shown.join(', ')}${more}`;
}

/** Offline devices that would match: worth saying, since bringing one back helps. */
function offlineHint(taskType: string, req: TaskRequirements, devices: readonly DeviceSnapshot[]): string {
  const fits = devices.filter((d) => !isOnline(d) && matchDevice(taskType, req, d).ok).map((d) => d.device_id);
  return fits.length === 0 ? '' : `; would fit offline ${fits.length === 1 ? 'device' : 'devices'} ${list(fits)}`;
}

function explainNoFit(taskType: string, req: TaskRequirements, online: readonly DeviceSnapshot[], devices: readonly DeviceSnapshot[]): string {
  const keys = online.map((d) => (matchDevice(taskType, req, d) as Extract<MatchResult, { ok: false }>).key);
  const first = keys[0] as FailKey;
  const base = keys.every((k) => k === first) ? explainOneKey(first, taskType, req, online) : explainMixed(keys, taskType, req);
  return base + offlineHint(taskType, req, devices);
}

// ------------------------------------------------------------ fits, but not now

function explainUnavailable(matching: readonly DeviceSnapshot[]): string {
  if (matching.some(isAvailable)) return 'a matching device has a free slot; waiting for the next dispatch pass';
  const blocked = matching.filter((d) => d.drained || d.paused);
  const busy = matching.filter((d) => !d.drained && !d.paused);
  const named = list(blocked.map((d) => `${d.device_id}: ${blockedStatus(d)}`));
  if (blocked.length === 0) {
    if (busy.length === 1) return `the only matching device (${busy[0]?.device_id}) is busy (${slots(busy)})`;
    return `all ${busy.length} matching devices are busy (${slots(busy)})`;
  }
  if (busy.length === 0) return `all matching devices are drained or paused (${named})`;
  return `all ${matching.length} matching devices are busy, drained or paused (${busy.length} busy, ${slots(busy)}; ${named})`;
}

/**
 * A short, human reason (≤ 200 chars) why a task cannot be placed now, for
 * the devices as they are: no device online, nothing online fits (and why,
 * the most common causes with counts when devices differ), or everything
 * that fits is busy, drained or paused. A pinned task talks about its device.
 */
export function explainWait(taskType: string, req: TaskRequirements, devices: readonly DeviceSnapshot[]): string {
  if (req.device_id !== undefined) return truncate(explainPinned(taskType, req, req.device_id, devices));
  const online = devices.filter(isOnline);
  if (online.length === 0) return devices.length === 0 ? 'no device is online (none registered)' : 'no device is online';
  const matching = online.filter((d) => matchDevice(taskType, req, d).ok);
  if (matching.length === 0) return truncate(explainNoFit(taskType, req, online, devices));
  return truncate(explainUnavailable(matching));
}
