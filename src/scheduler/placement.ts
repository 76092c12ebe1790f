import type { DeviceSnapshot, PlacementWeights } from './types.js';

/** A heartbeat value not yet known counts as half used: neither preferred nor avoided. */
const UNKNOWN_USAGE_PERCENT = 50;
/** Scores closer than this are a tie (floating-point noise, not a real difference). */
const SCORE_EPSILON = 1e-9;

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** 1 = idle, 0 = full; a percentage outside 0..100 is clamped. */
function idleShare(usagePercent: number | null): number {
  return 1 - clamp(usagePercent ?? UNKNOWN_USAGE_PERCENT, 0, 100) / 100;
}

/** 1 = no task running, 0 = every slot used; a device without slots scores 0. */
function freeSlotShare(d: DeviceSnapshot): number {
  return d.max_tasks > 0 ? 1 - clamp(d.active_tasks / d.max_tasks, 0, 1) : 0;
}

/**
 * How good a device is for the next task, higher is better:
 * w.cpu·(1 − cpu%) + w.memory·(1 − mem%) + w.active_tasks·(1 − active/max) + w.health·health.
 * Unknown CPU or memory usage counts as 50 %.
 */
export function scoreDevice(d: DeviceSnapshot, w: PlacementWeights): number {
  return (
    w.cpu * idleShare(d.cpu_usage) +
    w.memory * idleShare(d.memory_usage) +
    w.active_tasks * freeSlotShare(d) +
    w.health * clamp(d.health, 0, 1)
  );
}

/**
 * Whether `a` (score sa) beats `b` (score sb): a stable device beats an
 * unstable one whatever the scores (a task on a flapping link may sit on a
 * device that is gone for minutes); then score, least recently assigned, id.
 */
function isBetter(a: DeviceSnapshot, sa: number, b: DeviceSnapshot, sb: number): boolean {
  if (a.unstable !== b.unstable) return !a.unstable;
  if (Math.abs(sa - sb) > SCORE_EPSILON) return sa > sb;
  if (a.last_assigned_ms !== b.last_assigned_ms) return a.last_assigned_ms < b.last_assigned_ms;
  return a.device_id < b.device_id;
}

/**
 * The best of already-filtered candidates: stable before unstable, then the highest score; a tie (within
 * 1e-9) goes to the device given a task least recently, then to the smaller
 * device_id so the choice never depends on input order. Null when empty.
 */
export function pickDevice(candidates: readonly DeviceSnapshot[], w: PlacementWeights): DeviceSnapshot | null {
  let best: DeviceSnapshot | null = null;
  let bestScore = 0;
  for (const d of candidates) {
    const score = scoreDevice(d, w);
    if (best === null || isBetter(d, score, best, bestScore)) {
      best = d;
      bestScore = score;
    }
  }
  return best;
}
