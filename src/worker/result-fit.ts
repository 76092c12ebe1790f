import { encodeMessage, createMessage } from '../protocol/codec.js';
import { MASTER_ID } from '../protocol/types.js';
import type { ResultData } from './executor.js';
import { utf8Prefix } from './executor.js';

/** Room kept free below the line limit for the envelope and JSON escaping slack. */
const FRAME_HEADROOM_BYTES = 4096;

/**
 * Cut a result's output until its task_result frame fits the line limit.
 * The output cap counts raw bytes, but JSON escaping can double them (every
 * newline becomes `\n`), and a frame over the limit would be refused and
 * resent forever.
 */
export function fitResultToFrame(result: ResultData, maxLineBytes: number): ResultData {
  const limit = maxLineBytes - FRAME_HEADROOM_BYTES;
  let fitted = result;
  for (let i = 0; i < 8; i++) {
    const size = Buffer.byteLength(encodeMessage(createMessage('task_result', fitted, { sender: 'x', receiver: MASTER_ID })));
    if (size <= limit) return fitted;
    const outputBytes = Buffer.byteLength(fitted.result.output);
    // Escaping may inflate up to 6× (\u00XX); shrink by the overshoot scaled for that.
    const keep = Math.max(0, outputBytes - Math.ceil(((size - limit) * outputBytes) / Math.max(1, size - 512)) - 64);
    fitted = { ...fitted, result: { ...fitted.result, output: utf8Prefix(fitted.result.output, keep), truncated: true } };
  }
  return { ...fitted, result: { ...fitted.result, output: '', truncated: true } };
}

const WINDOW_MS = 100;
const LINES_PER_WINDOW = 50;

/**
 * At most 500 live output lines a second per task: beyond that, lines are
 * skipped from the live stream (never from the result).
 */
export class ProgressLimiter {
  readonly #windows = new Map<string, { start: number; count: number }>();

  allow(taskId: string, connected: boolean): boolean {
    if (!connected) return false;
    const now = Date.now();
    const w = this.#windows.get(taskId);
    if (!w || now - w.start >= WINDOW_MS) {
      this.#windows.set(taskId, { start: now, count: 1 });
      return true;
    }
    w.count += 1;
    return w.count <= LINES_PER_WINDOW;
  }

  forget(taskId: string): void {
    this.#windows.delete(taskId);
  }
}
