import type { DeviceState, Priority, TaskRequirements } from '../store/store.js';

/**
 * What the scheduler knows of a device when it decides: profile facts and
 * live state. Built by the master from the registry; plain data, no I/O.
 */
export interface DeviceSnapshot {
  device_id: string;
  state: DeviceState;
  /** Drained by an operator: gets no new tasks, running ones finish. */
  drained: boolean;
  /** Its connection dropped repeatedly of late: placement prefers stable devices. */
  unstable: boolean;
  /** Paused by the device itself (battery, heat); `pause_reason` says why. */
  paused: boolean;
  pause_reason: string | null;
  /** Has a live connection to send task_assign over. */
  connected: boolean;
  role: string;
  tags: readonly string[];
  platform: string | null;
  arch: string | null;
  cpu_count: number | null;
  memory_total_gb: number | null;
  storage_total_gb: number | null;
  gpu: boolean | null;
  task_types: readonly string[];
  max_tasks: number;
  /** Tasks assigned or running on it now (the master's count, not the heartbeat's). */
  active_tasks: number;
  /** Latest heartbeat values, null when unknown. */
  cpu_usage: number | null;
  memory_usage: number | null;
  battery_percent: number | null;
  charging: boolean | null;
  /** 0..1, 1 = healthy (e.g. recent success ratio). */
  health: number;
  /** When it was last given a task (ties go to the least recent); 0 = never. */
  last_assigned_ms: number;
}

/** A queued task as the scheduler sees it. */
export interface QueuedTask {
  task_id: string;
  task_type: string;
  priority: Priority;
  requirements: TaskRequirements;
  /** Monotonic enqueue order: FIFO within a level. */
  seq: number;
  /** When it (re-)entered the queue; aging counts from here. */
  enqueued_ms: number;
  /** A retry may not be placed before this time. */
  not_before_ms: number | null;
}

export type MatchResult = { ok: true } | { ok: false; key: keyof TaskRequirements | 'task_type'; reason: string };

export interface PlacementWeights {
  cpu: number;
  memory: number;
  active_tasks: number;
  health: number;
}

/** Documented default (issue #3): CPU 40 %, memory 30 %, active tasks 20 %, health 10 %. */
export const DEFAULT_WEIGHTS: Readonly<PlacementWeights> = Object.freeze({ cpu: 0.4, memory: 0.3, active_tasks: 0.2, health: 0.1 });

export interface DispatchOptions {
  now_ms: number;
  weights: PlacementWeights;
  /** A waiting task gains one priority level per this many ms (aging); 0 disables aging. */
  aging_step_ms: number;
  /** Aging never lifts a task above this level. */
  aging_max_priority: Priority;
  /** Stop after this many assignments in one pass. */
  max_assignments: number;
  /**
   * Once no device has a free slot, the pass goes on only until this many
   * waiting tasks (the first in dispatch order) have a fresh reason; the rest
   * keep the reason they had. Bounds the cost of a pass over a long queue on
   * a full cluster. Default DEFAULT_MAX_EXPLAINED.
   */
  max_explained?: number;
}

/** Default for DispatchOptions.max_explained. */
export const DEFAULT_MAX_EXPLAINED = 1000;

export interface DispatchPlan {
  assignments: Array<{ task_id: string; device_id: string }>;
  /** Tasks that could not be placed, with a human-readable reason. */
  waiting: Map<string, string>;
}
