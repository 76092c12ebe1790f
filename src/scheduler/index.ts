/**
 * The scheduler: which queued task runs on which device, and why a task
 * waits. Decisions only: no SQL, no sockets, no timers, no clock (time comes
 * in as `now_ms`).
 */
export { planDispatch, taskSignature } from './dispatch.js';
export { canonicalArch, isAvailable, matchDevice } from './matcher.js';
export { pickDevice, scoreDevice } from './placement.js';
export { effectiveLevel, priorityLevel, TaskQueue } from './queue.js';
export { parseRequirementFlag, REQUIREMENT_KEYS, validateRequirements, type RequirementKey } from './requirements.js';
export { DEFAULT_MAX_EXPLAINED, DEFAULT_WEIGHTS } from './types.js';
export type { DeviceSnapshot, DispatchOptions, DispatchPlan, MatchResult, PlacementWeights, QueuedTask } from './types.js';
export { explainWait, MAX_WAIT_REASON_CHARS } from './wait-reason.js';
