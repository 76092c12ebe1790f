/** How long one hardware probe may take before its value counts as unknown, in ms. */
export const DEFAULT_PROBE_TIMEOUT_MS = 3000;

/**
 * Runs `fn` and resolves with its value, or with `fallback` if it throws, rejects
 * or has not settled within `timeoutMs`. Never rejects.
 *
 * A late `fn` cannot be cancelled (a spawned `df` keeps running), so it is left to
 * finish on its own; its rejection is already handled and never goes unhandled.
 */
export async function probe<T>(fn: () => Promise<T>, timeoutMs: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<T>((resolve) => {
    timer = setTimeout(resolve, timeoutMs, fallback);
    // A pending probe must not keep a worker that is shutting down alive.
    timer.unref();
  });
  // Calling fn inside then() turns a synchronous throw into a rejection we catch.
  const attempt = Promise.resolve()
    .then(fn)
    .catch(() => fallback);
  try {
    return await Promise.race([attempt, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
