import type { OutputTarget } from './rc-style.js';

export interface ProgressCounts {
  /** Tasks in a final state, failed ones included. */
  done: number;
  /** Of `done`, those that did not succeed. */
  failed: number;
  total: number;
  elapsedMs: number;
}

const MAX_BAR = 30;
const MIN_BAR = 5;
const DEFAULT_COLUMNS = 80;

/**
 * One progress line, e.g. `[#####.....] 512/1000 done  3 failed  12.3 s`.
 * The bar shrinks to fit `columns` and the line never reaches the last
 * column, so a terminal never wraps it (a wrapped line breaks `\r` redraws).
 */
export function renderProgress(c: ProgressCounts, terminalColumns?: number): string {
  // A pty without a size (script(1), some CI) reports 0 columns.
  const columns = terminalColumns !== undefined && terminalColumns > 0 ? terminalColumns : DEFAULT_COLUMNS;
  const text = ` ${c.done}/${c.total} done  ${c.failed} failed  ${(c.elapsedMs / 1000).toFixed(1)} s`;
  const room = columns - 1 - text.length - 2;
  const width = Math.max(MIN_BAR, Math.min(MAX_BAR, room));
  const ratio = c.total <= 0 ? 1 : Math.min(1, Math.max(0, c.done / c.total));
  const filled = Math.floor(width * ratio);
  const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]${text}`;
  return line.slice(0, Math.max(0, columns - 1));
}

export interface ProgressStream extends OutputTarget {
  write(text: string): unknown;
}

/** Redraws one progress line in place on a TTY; on anything else it writes nothing. */
export class ProgressBar {
  readonly #stream: ProgressStream;
  #isDrawn = false;

  constructor(stream: ProgressStream) {
    this.#stream = stream;
  }

  get isActive(): boolean {
    return this.#stream.isTTY === true;
  }

  update(counts: ProgressCounts): void {
    if (!this.isActive) return;
    // \r back to column 0, then erase what a longer previous line left behind.
    this.#stream.write(`\r${renderProgress(counts, this.#stream.columns)}\u001b[K`);
    this.#isDrawn = true;
  }

  /** Erase the line so the summary starts on a clean one. */
  clear(): void {
    if (!this.#isDrawn) return;
    this.#stream.write('\r\u001b[K');
    this.#isDrawn = false;
  }
}
