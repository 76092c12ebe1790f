/**
 * The device profile a worker sends in `register`: what the hardware is, read
 * once at startup. Every fact that cannot be read in time is `null` (unknown);
 * nothing is guessed, because the master places tasks on these facts.
 */
import os from 'node:os';
import path from 'node:path';
import type { Systeminformation } from 'systeminformation';
import { readTextFile, realpath } from './fs-async.js';
import { si } from './sysinfo.js';
import { DEFAULT_PROBE_TIMEOUT_MS, probe } from '../common/with-timeout.js';
import type { BatteryState, HardwareInfo, OsInfo, RegisterData } from '../protocol/types.js';
import { detectDeviceKind } from './device-kind.js';

export interface ProfileOptions {
  role: string;
  tags: string[];
  maxTasks: number;
  taskTypes: string[];
  /** Per systeminformation call, in ms. Default 3000. */
  probeTimeoutMs?: number;
  /** The worker's data dir; storage is reported for the filesystem holding it. Default `/`. */
  dataDir?: string;
}

export interface BatteryReading {
  hasBattery: boolean | null;
  state: BatteryState | null;
}

interface GpuReading {
  gpu: boolean | null;
  model: string | null;
}

type FsEntry = Systeminformation.FsSizeData;
type GraphicsController = Systeminformation.GraphicsControllerData;

export const UNKNOWN_BATTERY: BatteryReading = Object.freeze({ hasBattery: null, state: null });
const NO_BATTERY: BatteryReading = Object.freeze({ hasBattery: false, state: null });
const UNKNOWN_GPU: GpuReading = Object.freeze({ gpu: null, model: null });
const ANDROID_BATTERY_DIR = '/sys/class/power_supply/battery';
const BYTES_PER_GB = 1024 ** 3;
// Display adapters of VMs, BMCs and software renderers: present, but no use for compute.
const NON_COMPUTE_GPU = /virtual|basic (display|render)|vmware|virtualbox|vbox|qxl|cirrus|bochs|hyper-v|virtio|llvmpipe|softpipe|swrast|standard vga|simple ?framebuffer|parallels|aspeed|matrox/i;

/**
 * Reads the hardware and OS profile. The caller adds `device_id`,
 * `protocol_version` and `running_tasks`.
 */
export async function collectProfile(opts: ProfileOptions): Promise<RegisterData> {
  const platform = detectPlatform();
  const timeoutMs = opts.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const facts = await readFacts(timeoutMs, platform, opts.dataDir);
  const hardware = toHardwareInfo(facts);
  const kind = await detectDeviceKind(hardware.has_battery ?? null, { timeoutMs });
  return {
    device_kind: kind.kind,
    device_model: kind.model,
    hostname: os.hostname(),
    role: opts.role,
    tags: opts.tags,
    platform,
    arch: process.arch,
    hardware,
    os: toOsInfo(platform, facts.os),
    battery: facts.battery.state,
    node_version: process.version,
    capabilities: deriveCapabilities(hardware, opts.taskTypes),
    task_types: opts.taskTypes,
    max_tasks: opts.maxTasks,
  };
}

type Facts = Awaited<ReturnType<typeof readFacts>>;

// Concurrent, so the profile takes as long as the slowest read, not their sum.
async function readFacts(t: number, platform: string, dataDir: string | undefined) {
  const [cpu, mem, fs, osData, gpu, battery] = await Promise.all([
    probe(() => si.cpu(), t, null),
    probe(() => si.mem(), t, null),
    probe(() => findDataFs(dataDir), t, null),
    probe(() => si.osInfo(), t, null),
    probe(() => readGpu(platform), t, UNKNOWN_GPU),
    probe(() => readBattery(platform), t, UNKNOWN_BATTERY),
  ]);
  return { cpu, mem, fs, os: osData, gpu, battery };
}

function toHardwareInfo({ cpu, mem, fs, gpu, battery }: Facts): HardwareInfo {
  return {
    cpu_count: positiveOrNull(cpu?.cores),
    cpu_model: joinNonEmpty(cpu?.manufacturer, cpu?.brand),
    memory_total_gb: toGb(mem?.total),
    storage_total_gb: toGb(fs?.size),
    gpu: gpu.gpu,
    gpu_model: gpu.model,
    has_battery: battery.hasBattery,
  };
}

/**
 * `process.platform`, except `android` under Termux: Node binaries run there
 * (e.g. glibc or proot builds) may report `linux`, and the master must be able
 * to tell phones from Linux boxes.
 */
export function detectPlatform(env: NodeJS.ProcessEnv = process.env): string {
  const isTermux = (env['PREFIX'] ?? '').includes('com.termux') || Boolean(env['ANDROID_ROOT']);
  return isTermux ? 'android' : process.platform;
}

/** The filesystem that holds `dataDir` (default `/`), or null if none is listed. */
export async function findDataFs(dataDir?: string): Promise<FsEntry | null> {
  const target = path.resolve(dataDir ?? '/');
  // Follow symlinks (Termux's ~/storage) to the filesystem that really holds the data.
  const real = await realpath(target).catch(() => target);
  return pickFsFor(await si.fsSize(), real);
}

/** The entry whose mount point is the longest prefix of `target`. */
export function pickFsFor(entries: readonly FsEntry[], target: string): FsEntry | null {
  const wanted = normalizeFsPath(target);
  let best: FsEntry | null = null;
  for (const entry of entries) {
    const mount = normalizeFsPath(entry.mount);
    const isUnder = wanted === mount || wanted.startsWith(mount.endsWith('/') ? mount : `${mount}/`);
    if (isUnder && mount.length > (best ? normalizeFsPath(best.mount).length : -1)) best = entry;
  }
  return best;
}

// Windows mounts are drive letters (`C:`) and paths use backslashes in any case.
function normalizeFsPath(p: string): string {
  return process.platform === 'win32' ? p.replaceAll('\\', '/').toLowerCase() : p;
}

/** Whether there is a battery, and its charge. May reject; wrap it in `probe()`. */
export async function readBattery(platform: string): Promise<BatteryReading> {
  // systeminformation only looks at BAT0/BAT1, so on a phone its "no battery" is wrong.
  if (platform === 'android') return readAndroidBattery();
  const b = await si.battery();
  if (!b.hasBattery) return NO_BATTERY;
  return { hasBattery: true, state: { percent: roundTo(b.percent, 1), charging: b.isCharging } };
}

// Android 10+ often denies this to apps; the read then fails and the battery stays unknown.
async function readAndroidBattery(): Promise<BatteryReading> {
  const [capacity, status] = await Promise.all([
    readTextFile(`${ANDROID_BATTERY_DIR}/capacity`),
    readTextFile(`${ANDROID_BATTERY_DIR}/status`).catch(() => null),
  ]);
  const percent = roundTo(Number(capacity.trim()), 1);
  if (percent === null) return UNKNOWN_BATTERY;
  const charging = status === null ? null : status.trim().toLowerCase() === 'charging';
  return { hasBattery: true, state: { percent, charging } };
}

async function readGpu(platform: string): Promise<GpuReading> {
  const { controllers } = await si.graphics();
  const real = controllers.find(isComputeGpu);
  if (real) return { gpu: true, model: real.model.trim() };
  // systeminformation finds GPUs through lspci, which phones lack: none found means unknown.
  return platform === 'android' ? UNKNOWN_GPU : { gpu: false, model: null };
}

function isComputeGpu(c: GraphicsController): boolean {
  const model = (c.model ?? '').trim();
  return model !== '' && !NON_COMPUTE_GPU.test(`${c.vendor ?? ''} ${model}`);
}

function toOsInfo(platform: string, data: Systeminformation.OsData | null): OsInfo {
  return {
    platform,
    distro: nonEmptyOrNull(data?.distro),
    release: nonEmptyOrNull(data?.release),
    kernel: nonEmptyOrNull(data?.kernel),
  };
}

/** Capability names the master can match on, derived only from known facts. */
export function deriveCapabilities(hw: HardwareInfo, taskTypes: readonly string[], arch: string = process.arch): string[] {
  const caps = [archFamily(arch)];
  if (hw.gpu === true) caps.push('gpu');
  if (hw.has_battery === true) caps.push('battery');
  return [...new Set([...caps, ...taskTypes])];
}

function archFamily(arch: string): string {
  if (arch === 'arm' || arch === 'arm64') return 'arm';
  if (arch === 'x64' || arch === 'ia32') return 'x86';
  return arch;
}

function toGb(bytes: number | undefined): number | null {
  return bytes !== undefined && bytes > 0 ? roundTo(bytes / BYTES_PER_GB, 2) : null;
}

function positiveOrNull(n: number | undefined): number | null {
  return n !== undefined && Number.isFinite(n) && n > 0 ? n : null;
}

function nonEmptyOrNull(s: string | undefined): string | null {
  const trimmed = (s ?? '').trim();
  return trimmed === '' ? null : trimmed;
}

function joinNonEmpty(...parts: Array<string | undefined>): string | null {
  return nonEmptyOrNull(parts.map((p) => (p ?? '').trim()).filter(Boolean).join(' '));
}

/** `n` rounded to `digits` decimals, or null if it is not a finite number. */
export function roundTo(n: number, digits: number): number | null {
  if (!Number.isFinite(n)) return null;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
