import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Poll `probe` until it returns something other than null/undefined/false, or
 * fail after `timeoutMs` with a message that says what we were waiting for.
 * Tests wait for conditions with a deadline, never for a fixed time.
 */
export async function waitFor<T>(
  probe: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  timeoutMs: number,
  what: string | (() => string),
  pollMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await probe();
      if (value !== null && value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const label = typeof what === 'function' ? what() : what;
      const suffix = lastError ? ` (last error: ${String(lastError)})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${label}${suffix}`);
    }
    await sleep(pollMs);
  }
}
