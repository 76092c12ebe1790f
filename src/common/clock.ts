/** Injected time source so that liveness and scheduling logic are testable. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
