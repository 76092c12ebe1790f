/**
 * Where the power policy's readings come from, each with a timeout and a
 * fallback to unknown: `termux-battery-status` (Termux:API) for phones, the
 * kernel's /sys/class/thermal zones, and systeminformation's battery for
 * laptops. Every source is injectable so tests can make it fail or hang.
 */
import { execFile } from 'node:child_process';
import { readdir, readTextFile } from '../fs-async.js';
import { si } from '../sysinfo.js';
import { probe } from '../../common/with-timeout.js';
import type { PowerReading } from './policy.js';

export interface ProbeSources {
  /** Runs a program, resolving with its stdout; rejects on failure. */
  run(command: string, args: readonly string[], timeoutMs: number): Promise<string>;
  readFile(path: string): Promise<string>;
  readDir(path: string): Promise<string[]>;
  /** Battery from systeminformation (laptops); may reject. */
  systemBattery(): Promise<{ percent: number | null; plugged: boolean | null } | null>;
}

export interface TermuxBattery {
  percent: number | null;
  plugged: boolean | null;
  temperatureC: number | null;
  health: string | null;
}

export const THERMAL_DIR = '/sys/class/thermal';
/** A missing command is asked for again only this rarely (ms): spawning is not free on a phone. */
const MISSING_RECHECK_MS = 600_000;

export const realSources: ProbeSources = {
  run: (command, args, timeoutMs) =>
    new Promise((resolve, reject) => {
      execFile(command, [...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    }),
  readFile: (path) => readTextFile(path),
  readDir: (path) => readdir(path),
  systemBattery: async () => {
    const b = await si.battery();
    return b.hasBattery ? { percent: b.percent, plugged: b.acConnected || b.isCharging } : null;
  },
};

/** Parses `termux-battery-status` JSON; anything malformed is unknown, field by field. */
export function parseTermuxBattery(text: string): TermuxBattery | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const plugged = typeof o['plugged'] === 'string' ? o['plugged'] !== 'UNPLUGGED' : null;
  return {
    percent: finiteIn(o['percentage'], 0, 100),
    plugged,
    temperatureC: finiteIn(o['temperature'], -40, 150),
    health: typeof o['health'] === 'string' ? o['health'] : null,
  };
}

/** The hottest readable zone, °C (the kernel reports millidegrees), or null. */
export async function readThermalZones(src: ProbeSources, dir = THERMAL_DIR): Promise<number | null> {
  const zones = (await src.readDir(dir)).filter((n) => n.startsWith('thermal_zone'));
  const temps = await Promise.all(zones.map((z) => src.readFile(`${dir}/${z}/temp`).then((t) => finiteIn(Number(t.trim()) / 1000, -40, 150), () => null)));
  const known = temps.filter((t): t is number => t !== null);
  return known.length === 0 ? null : Math.max(...known);
}

/**
 * Reads what the policy needs. Each source is probed with `timeoutMs`; a
 * failure, a hang or garbage makes that value null, never a guess.
 */
export function createPowerReader(src: ProbeSources = realSources, timeoutMs = 3000, now: () => number = Date.now): () => Promise<PowerReading & { termux: TermuxBattery | null }> {
  let termuxMissingUntil = 0;
  const readTermux = async (): Promise<TermuxBattery | null> => {
    if (now() < termuxMissingUntil) return null;
    try {
      return parseTermuxBattery(await src.run('termux-battery-status', [], timeoutMs));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') termuxMissingUntil = now() + MISSING_RECHECK_MS;
      return null;
    }
  };
  return async () => {
    const [termux, zones] = await Promise.all([probe(readTermux, timeoutMs, null), probe(() => readThermalZones(src), timeoutMs, null)]);
    const system = termux === null ? await probe(() => src.systemBattery(), timeoutMs, null) : null;
    const temps = [termux?.temperatureC ?? null, zones].filter((t): t is number => t !== null);
    return {
      batteryPercent: termux?.percent ?? finiteIn(system?.percent, 0, 100),
      plugged: termux?.plugged ?? system?.plugged ?? null,
      temperatureC: temps.length === 0 ? null : Math.max(...temps),
      termux,
    };
  };
}

function finiteIn(v: unknown, lo: number, hi: number): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi ? Math.round(v * 10) / 10 : null;
}
