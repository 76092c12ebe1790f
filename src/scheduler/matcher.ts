import type { TaskRequirements } from '../store/store.js';
import type { DeviceSnapshot, MatchResult } from './types.js';

type Failure = Extract<MatchResult, { ok: false }>;
type Check = (taskType: string, req: TaskRequirements, d: DeviceSnapshot) => Failure | null;

const OK: MatchResult = Object.freeze({ ok: true });

/** Names that different reporters (Node, Python, uname) give the same CPU architecture. */
const ARCH_ALIASES: Readonly<Record<string, string>> = { aarch64: 'arm64', x86_64: 'x64', amd64: 'x64' };

/** Lower-cased, with aliases folded: `aarch64` → `arm64`, `x86_64`/`amd64` → `x64`. */
export function canonicalArch(arch: string): string {
  const lower = arch.toLowerCase();
  return ARCH_ALIASES[lower] ?? lower;
}

function fail(key: Failure['key'], reason: string): Failure {
  return { ok: false, key, reason };
}

/** Numbers in reasons: whole numbers as is, others to one decimal. */
export function formatAmount(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/**
 * A minimum over a profile value. An unknown (null) device value never
 * satisfies a minimum: placing a 8 GB task on a device that did not say how
 * much memory it has would be a guess.
 */
function checkMinimum(key: Failure['key'], label: string, unit: string, min: number | undefined, have: number | null): Failure | null {
  if (min === undefined) return null;
  if (have === null) return fail(key, `${label} unknown, needs ≥ ${formatAmount(min)}${unit}`);
  return have >= min ? null : fail(key, `${label} ${formatAmount(have)}${unit} < ${formatAmount(min)}${unit}`);
}

const checkTaskType: Check = (taskType, _req, d) =>
  d.task_types.includes(taskType) ? null : fail('task_type', `does not accept task type "${taskType}"`);

const checkPin: Check = (_t, req, d) =>
  req.device_id === undefined || req.device_id === d.device_id ? null : fail('device_id', `not device ${req.device_id}`);

const checkRole: Check = (_t, req, d) =>
  req.role === undefined || req.role === d.role ? null : fail('role', `role ${d.role}, needs ${req.role}`);

const checkPlatform: Check = (_t, req, d) => {
  if (req.platform === undefined) return null;
  if (d.platform !== null && d.platform.toLowerCase() === req.platform.toLowerCase()) return null;
  return fail('platform', `platform ${d.platform ?? 'unknown'}, needs ${req.platform}`);
};

const checkArch: Check = (_t, req, d) => {
  if (req.arch === undefined) return null;
  if (d.arch !== null && canonicalArch(d.arch) === canonicalArch(req.arch)) return null;
  return fail('arch', `arch ${d.arch ?? 'unknown'}, needs ${req.arch}`);
};

const checkTags: Check = (_t, req, d) => {
  const missing = (req.tags ?? []).filter((tag) => !d.tags.includes(tag));
  return missing.length === 0 ? null : fail('tags', `missing tag${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
};

const checkGpu: Check = (_t, req, d) => {
  if (req.gpu === true && d.gpu !== true) return fail('gpu', d.gpu === null ? 'GPU unknown, needs one' : 'no GPU');
  if (req.gpu === false && d.gpu === true) return fail('gpu', 'has a GPU, task wants none');
  return null;
};

const checkCores: Check = (_t, req, d) => checkMinimum('min_cpu_cores', 'CPU cores', '', req.min_cpu_cores, d.cpu_count);
const checkMemory: Check = (_t, req, d) => checkMinimum('min_memory_gb', 'memory', ' GB', req.min_memory_gb, d.memory_total_gb);
const checkStorage: Check = (_t, req, d) => checkMinimum('min_storage_gb', 'storage', ' GB', req.min_storage_gb, d.storage_total_gb);

/**
 * `battery_percent === null` satisfies a battery minimum: laptops, Pis and
 * desktops have no battery and run on mains, so they report none. Only a
 * device with a battery below the minimum fails. (A phone reports its battery
 * with every heartbeat, so it is null only before its first one.)
 */
const checkBattery: Check = (_t, req, d) => {
  const min = req.min_battery_percent;
  if (min === undefined || d.battery_percent === null || d.battery_percent >= min) return null;
  return fail('min_battery_percent', `battery ${formatAmount(d.battery_percent)}% < ${formatAmount(min)}%`);
};

/** Same reading as the battery rule: no battery means mains power, which counts as charging. */
const checkCharging: Check = (_t, req, d) => {
  if (req.requires_charging !== true || d.charging === true || d.battery_percent === null) return null;
  return fail('requires_charging', d.charging === null ? 'charging unknown' : 'not charging');
};

/** In this order: the first failing check is the one reported. */
const CHECKS: readonly Check[] = [
  checkTaskType, checkPin, checkRole, checkPlatform, checkArch, checkTags, checkGpu,
  checkCores, checkMemory, checkStorage, checkBattery, checkCharging,
];

/**
 * Whether a device can run a task at all: its task types, profile facts and
 * live battery facts against the task's requirements. It does not look at
 * state, drain, pause or free slots; that is `isAvailable`. Platform and arch
 * compare case-insensitively (arch with aliases); role and tags exactly, as
 * operators choose them.
 */
export function matchDevice(taskType: string, req: TaskRequirements, d: DeviceSnapshot): MatchResult {
  for (const check of CHECKS) {
    const failure = check(taskType, req, d);
    if (failure !== null) return failure;
  }
  return OK;
}

/** Whether a device can take a new task now: online, connected, not drained or paused, a slot free. */
export function isAvailable(d: DeviceSnapshot): boolean {
  return d.state === 'online' && d.connected && !d.drained && !d.paused && d.active_tasks < d.max_tasks;
}
