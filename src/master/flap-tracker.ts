/**
 * Counts the connection drops of each device within a sliding window
 * (issue #6: flapping links). A device with `threshold` or more drops in the
 * window is `unstable`: placement prefers stable devices, and people see it in
 * /text/devices. Pure: the caller passes the time in.
 */
export interface FlapOptions {
  windowMs: number;
  threshold: number;
}

export class FlapTracker {
  readonly #opts: FlapOptions;
  readonly #drops = new Map<string, number[]>();

  constructor(opts: FlapOptions) {
    this.#opts = opts;
  }

  /** Records one drop; returns true when this drop made the device unstable. */
  recordDrop(deviceId: string, nowMs: number): boolean {
    const wasUnstable = this.isUnstable(deviceId, nowMs);
    const drops = this.#recent(deviceId, nowMs);
    drops.push(nowMs);
    this.#drops.set(deviceId, drops);
    return !wasUnstable && this.isUnstable(deviceId, nowMs);
  }

  /** Drops within the window ending now. */
  count(deviceId: string, nowMs: number): number {
    return this.#recent(deviceId, nowMs).length;
  }

  isUnstable(deviceId: string, nowMs: number): boolean {
    return this.count(deviceId, nowMs) >= this.#opts.threshold;
  }

  forget(deviceId: string): void {
    this.#drops.delete(deviceId);
  }

  #recent(deviceId: string, nowMs: number): number[] {
    const drops = this.#drops.get(deviceId);
    if (drops === undefined) return [];
    const since = nowMs - this.#opts.windowMs;
    const recent = drops.filter((t) => t > since);
    if (recent.length === 0) this.#drops.delete(deviceId);
    else if (recent.length !== drops.length) this.#drops.set(deviceId, recent);
    return recent;
  }
}
