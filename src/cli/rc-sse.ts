import { setTimeout as sleep } from 'node:timers/promises';
import { nextDelay, type BackoffOptions } from '../common/backoff.js';
import { CliExit, expectOk } from './http-client.js';
import { EXIT } from './run-main.js';
import { SseParser, type SseEvent } from './rc-sse-parser.js';

/** Issue: reconnect with backoff, base 0.5 s, cap 5 s. */
export const FOLLOW_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 5000 };
/** No byte at all (not even a keep-alive comment) for this long means the connection is dead. */
export const FOLLOW_IDLE_MS = 60_000;

/** Return true to stop reading (the caller has what it wanted). */
export type EventHandler = (event: SseEvent) => boolean | Promise<boolean>;

export type ReadOutcome = 'stopped' | 'ended' | 'idle';

interface ReadOptions {
  onEvent: EventHandler;
  /** Give up on a connection that sends nothing for this long. */
  idleMs: number;
  signal: AbortSignal;
  lastEventId: string | null;
}

/** Read one SSE response until the handler stops, the server ends it, or it goes quiet. */
export async function readSse(res: Response, o: ReadOptions): Promise<ReadOutcome> {
  if (!res.body) return 'ended';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser(o.lastEventId);
  let isIdle = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      isIdle = true;
      void reader.cancel().catch(() => undefined);
    }, o.idleMs);
  };
  const onAbort = (): void => void reader.cancel().catch(() => undefined);
  o.signal.addEventListener('abort', onAbort, { once: true });
  try {
    arm();
    for (;;) {
      const { done, value } = await reader.read().catch((err: unknown) => {
        throw new StreamBrokenError(err);
      });
      if (done) return isIdle ? 'idle' : 'ended';
      arm();
      for (const event of parser.push(decoder.decode(value, { stream: true }))) {
        if (!(await o.onEvent(event))) continue;
        await reader.cancel().catch(() => undefined);
        return 'stopped';
      }
    }
  } finally {
    clearTimeout(timer);
    o.signal.removeEventListener('abort', onAbort);
  }
}

export interface DisconnectInfo {
  reason: string;
  /** 1 for the first reconnect after a disconnect. */
  attempt: number;
  delayMs: number;
}

export interface FollowOptions {
  /** Open the stream, sending `Last-Event-ID` when there is one. */
  open(lastEventId: string | null, signal: AbortSignal): Promise<Response>;
  onEvent: EventHandler;
  onDisconnect(info: DisconnectInfo): void;
  onReconnect(): void;
  signal: AbortSignal;
  backoff?: BackoffOptions;
  idleMs?: number;
  random?: () => number;
}

/**
 * Follow an SSE stream for as long as it takes, across master restarts: on a
 * disconnect, back off (full jitter) and reconnect with `Last-Event-ID` so
 * the master resumes where we left off (or sends `gap`). The attempt counter
 * resets once a connection is accepted. If the very first connection fails
 * the master is unreachable (exit 3): there is nothing to survive yet.
 * Resolves 'stopped' when the handler stopped it, 'aborted' on `signal`.
 */
export async function followSse(o: FollowOptions): Promise<'stopped' | 'aborted'> {
  let lastEventId: string | null = null;
  let attempt = 0;
  let hasConnected = false;
  const onEvent: EventHandler = (event) => {
    lastEventId = event.id;
    return o.onEvent(event);
  };
  while (!o.signal.aborted) {
    let reason: string;
    try {
      const res = await openChecked(o, lastEventId);
      if (hasConnected) o.onReconnect();
      hasConnected = true;
      attempt = 0;
      const outcome = await readSse(res, { onEvent, idleMs: o.idleMs ?? FOLLOW_IDLE_MS, signal: o.signal, lastEventId });
      if (outcome === 'stopped') return 'stopped';
      reason = outcome === 'idle' ? 'the stream went silent' : 'the master closed the stream';
    } catch (err) {
      if (o.signal.aborted) break;
      if (!isRetryable(err, hasConnected)) throw err;
      reason = err instanceof Error ? err.message : String(err);
    }
    if (o.signal.aborted) break;
    const delayMs = nextDelay(attempt, o.backoff ?? FOLLOW_BACKOFF, o.random);
    attempt += 1;
    o.onDisconnect({ reason, attempt, delayMs });
    if (!(await sleepUnlessAborted(delayMs, o.signal))) break;
  }
  return 'aborted';
}

/** A 5xx (a master still starting, a proxy) is worth retrying; any other non-2xx is final. */
class RetryableHttpError extends Error {}

/** The connection broke mid-stream (the master died or restarted). */
class StreamBrokenError extends Error {
  constructor(cause: unknown) {
    const detail = (cause as { cause?: { code?: string; message?: string } } | null)?.cause;
    super(`lost the connection to the master (${detail?.code ?? detail?.message ?? (cause instanceof Error ? cause.message : String(cause))})`, { cause });
  }
}

async function openChecked(o: FollowOptions, lastEventId: string | null): Promise<Response> {
  const res = await o.open(lastEventId, o.signal);
  if (res.ok) return res;
  const text = await res.text().catch(() => '');
  if (res.status >= 500) throw new RetryableHttpError(`HTTP ${res.status}`);
  expectOk({ status: res.status, text, body: parseJson(text) });
  throw new CliExit(EXIT.failed, `HTTP ${res.status}`);
}

/** A broken stream and a 5xx are retried, and so is an unreachable master once we have been connected; a 4xx is not. */
function isRetryable(err: unknown, hasConnected: boolean): boolean {
  if (err instanceof RetryableHttpError || err instanceof StreamBrokenError) return true;
  return err instanceof CliExit && hasConnected && err.exitCode === EXIT.unreachable;
}

async function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
