import type { DeviceState } from '../store/store.js';

export interface LivenessOptions {
  heartbeatIntervalMs: number;
  offlineAfterMs: number;
}

/** Two missed heartbeats make a device suspect (PROTOCOL §6). */
export const SUSPECT_AFTER_INTERVALS = 2;

/**
 * The state a device is in, from the age of its last sign of life alone.
 * Connection state is deliberately not used: legacy peers open a new
 * connection for every heartbeat, and a phone whose Wi-Fi blips should not
 * flap to offline between two heartbeats.
 */
export function deriveState(lastSeenMs: number, nowMs: number, opts: LivenessOptions): DeviceState {
  const age = nowMs - lastSeenMs;
  if (age > opts.offlineAfterMs) return 'offline';
  if (age > SUSPECT_AFTER_INTERVALS * opts.heartbeatIntervalMs) return 'suspect';
  return 'online';
}

/** How often to re-derive states so that a change shows within one interval. */
export function livenessTickMs(heartbeatIntervalMs: number): number {
  return Math.max(100, Math.min(1000, Math.floor(heartbeatIntervalMs / 4)));
}
