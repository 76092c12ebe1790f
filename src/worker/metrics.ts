/**
 * Live metrics for each heartbeat. A sample is taken every 15 s on devices as
 * small as an old phone, so the slow reads are cached and none piles up.
 */
import os from 'node:os';
import { si } from './sysinfo.js';
import { DEFAULT_PROBE_TIMEOUT_MS, probe } from '../common/with-timeout.js';
import type { HeartbeatMetrics } from '../protocol/types.js';
import { detectPlatform, findDataFs, readBattery, roundTo, UNKNOWN_BATTERY } from './profile.js';

export interface MetricsSamplerOptions {
  /** Per systeminformation call, in ms. Default 3000. */
  probeTimeoutMs?: number;
  /** Disk usage is reported for the filesystem holding this dir. Default `/`. */
  dataDir?: string;
}

export interface MetricsSampler {
  sample(activeTasks: number): Promise<HeartbeatMetrics>;
}

interface CpuTimes {
  busy: number;
  total: number;
}

/** `df` is spawned for disk usage, which barely moves: at most once per this many ms. */
const DISK_REFRESH_MS = 60_000;
/** A missing temperature sensor costs three shell spawns to find out: re-check this rarely, in ms. */
const ABSENT_SENSOR_RECHECK_MS = 600_000;
/** Below this much CPU time (ms, all cores) between samples, tick granularity makes the ratio noise. */
const MIN_CPU_DELTA_MS = 200;

/** Creates a sampler; it keeps the CPU-time baseline and the slow-read caches between samples. */
export function createMetricsSampler(opts: MetricsSamplerOptions = {}): MetricsSampler {
  const t = opts.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const platform = detectPlatform();
  const readCpu = createCpuMeter();
  const readMem = singleFlight(() => si.mem());
  const readDisk = cacheFor(() => readDiskUsage(opts.dataDir, t), () => DISK_REFRESH_MS);
  const readTemp = createTemperatureReader(t);
  const readPower = singleFlight(() => readBattery(platform));
  return {
    async sample(activeTasks) {
      const [mem, disk_usage, battery, temperature_c] = await Promise.all([
        probe(readMem, t, null),
        readDisk(),
        probe(readPower, t, UNKNOWN_BATTERY),
        readTemp(),
      ]);
      return {
        cpu_usage: readCpu(),
        memory_usage: mem ? percentOf(mem.total - mem.available, mem.total) : null,
        disk_usage,
        load_average: readLoadAverage(),
        uptime_s: readUptime(),
        battery: battery.state,
        temperature_c,
        active_tasks: activeTasks,
      };
    },
  };
}

/**
 * CPU usage from `os.cpus()` time deltas between samples. This is what
 * systeminformation's currentLoad computes too, but it waits 500 ms on its first
 * call, shares one baseline per process, and reports 0 % where /proc/stat is
 * unreadable (Android 8+) instead of admitting it does not know.
 */
function createCpuMeter(): () => number | null {
  // Taking the baseline now lets the first heartbeat, 15 s later, report a real delta.
  let last = readCpuTimes();
  return () => {
    const now = readCpuTimes();
    if (!now || !last || now.total - last.total < MIN_CPU_DELTA_MS) {
      last ??= now;
      return loadBasedCpuUsage();
    }
    const usage = percentOf(now.busy - last.busy, now.total - last.total);
    last = now;
    return usage;
  };
}

function readCpuTimes(): CpuTimes | null {
  let busy = 0;
  let total = 0;
  for (const { times } of os.cpus()) {
    busy += times.user + times.nice + times.sys + times.irq;
    total += times.user + times.nice + times.sys + times.irq + times.idle;
  }
  return total > 0 ? { busy, total } : null;
}

// Only until a delta exists: the 1-min load counts runnable (and on Linux, I/O-blocked) tasks.
function loadBasedCpuUsage(): number | null {
  if (process.platform === 'win32') return null;
  const [oneMinute = 0] = os.loadavg();
  return percentOf(oneMinute, os.availableParallelism());
}

async function readDiskUsage(dataDir: string | undefined, timeoutMs: number): Promise<number | null> {
  const fs = await probe(() => findDataFs(dataDir), timeoutMs, null);
  if (!fs) return null;
  // `use` is df's Use%, which leaves out root-reserved blocks; it is what people expect to see.
  return Number.isFinite(fs.use) ? roundTo(fs.use, 1) : percentOf(fs.used, fs.size);
}

/** Temperature in °C, or null; a sensor found absent is only asked for again after a while. */
function createTemperatureReader(timeoutMs: number): () => Promise<number | null> {
  const read = singleFlight(() => si.cpuTemperature());
  const readReading = async (): Promise<{ celsius: number | null; isAbsent: boolean }> => {
    const data = await probe(read, timeoutMs, undefined);
    if (data === undefined) return { celsius: null, isAbsent: false };
    const celsius = data.main;
    // systeminformation reports "no sensor" as null, NaN or -1 depending on platform.
    const isValid = typeof celsius === 'number' && Number.isFinite(celsius) && celsius !== -1;
    return isValid ? { celsius: roundTo(celsius, 1), isAbsent: false } : { celsius: null, isAbsent: true };
  };
  const cached = cacheFor(readReading, (r) => (r.isAbsent ? ABSENT_SENSOR_RECHECK_MS : 0));
  return async () => (await cached()).celsius;
}

function readLoadAverage(): number[] | null {
  // Windows has no load average; Node reports it as zeros there.
  if (process.platform === 'win32') return null;
  return os.loadavg().map((n) => roundTo(n, 2) ?? 0);
}

function readUptime(): number | null {
  try {
    return Math.floor(os.uptime());
  } catch {
    // Some Android versions deny /proc/uptime and Node throws.
    return null;
  }
}

function percentOf(part: number, whole: number): number | null {
  if (!(whole > 0)) return null;
  const pct = roundTo((part / whole) * 100, 1);
  return pct === null ? null : Math.min(100, Math.max(0, pct));
}

/**
 * Shares one in-flight call between callers, so a read that outlives its probe
 * timeout is joined by the next sample instead of piling up beside it.
 */
function singleFlight<T>(fn: () => Promise<T>): () => Promise<T> {
  let inflight: Promise<T> | undefined;
  return () => {
    inflight ??= fn().finally(() => {
      inflight = undefined;
    });
    return inflight;
  };
}

/** Memoises `read` for `ttlMs(value)` ms after each read; concurrent callers share one read. */
function cacheFor<T>(read: () => Promise<T>, ttlMs: (value: T) => number): () => Promise<T> {
  let cached: { value: T; expiresAt: number } | undefined;
  const refresh = singleFlight(async () => {
    const value = await read();
    cached = { value, expiresAt: Date.now() + ttlMs(value) };
    return value;
  });
  return async () => (cached && Date.now() < cached.expiresAt ? cached.value : refresh());
}
