export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

/**
 * Exponential backoff with full jitter: a uniform delay in
 * [0, min(maxMs, baseMs * 2^attempt)). Full jitter spreads a fleet that lost
 * its master at the same instant, so the restarted master is not stampeded.
 * `random` is injected so tests are deterministic.
 */
export function nextDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const safeAttempt = Number.isNaN(attempt) ? 0 : Math.max(0, Math.floor(attempt));
  // 2^31 already dwarfs any sane cap; clamping avoids Infinity for large attempts.
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(safeAttempt, 31));
  return Math.floor(random() * ceiling);
}
