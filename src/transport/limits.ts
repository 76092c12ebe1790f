/**
 * Token bucket: `ratePerS` tokens a second, holding at most `burst`. Pure;
 * the clock is passed in.
 */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  #tokens: number;
  #lastMs: number;

  constructor(ratePerS: number, burst: number, nowMs: number) {
    this.#ratePerMs = ratePerS / 1000;
    this.#burst = burst;
    this.#tokens = burst;
    this.#lastMs = nowMs;
  }

  take(nowMs: number): boolean {
    const elapsed = Math.max(0, nowMs - this.#lastMs);
    this.#lastMs = nowMs;
    this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#ratePerMs);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

export interface GateLimits {
  maxConnections: number;
  maxPendingPerIp: number;
}

export type Admission = { ok: true } | { ok: false; limit: 'connections' | 'pending_per_ip'; message: string };

/**
 * Who may connect: a cap on all connections, and a cap per IP on those that
 * have not registered yet. Registered workers do not count against their
 * IP, so a flood from one address cannot lock out the devices behind it.
 */
export class ConnectionGate {
  readonly #limits: GateLimits;
  readonly #pendingByIp = new Map<string, number>();
  #total = 0;

  constructor(limits: GateLimits) {
    this.#limits = limits;
  }

  get total(): number {
    return this.#total;
  }

  admit(ip: string): Admission {
    if (this.#total >= this.#limits.maxConnections) {
      return { ok: false, limit: 'connections', message: `the master has ${this.#total} connections, its limit` };
    }
    const pending = this.#pendingByIp.get(ip) ?? 0;
    if (pending >= this.#limits.maxPendingPerIp) {
      return { ok: false, limit: 'pending_per_ip', message: `${pending} unregistered connections from ${ip} already` };
    }
    this.#total += 1;
    this.#pendingByIp.set(ip, pending + 1);
    return { ok: true };
  }

  registered(ip: string): void {
    this.#decrementPending(ip);
  }

  /** A connection closed; `wasPending` if it never registered. */
  release(ip: string, wasPending: boolean): void {
    this.#total = Math.max(0, this.#total - 1);
    if (wasPending) this.#decrementPending(ip);
  }

  #decrementPending(ip: string): void {
    const n = (this.#pendingByIp.get(ip) ?? 0) - 1;
    if (n > 0) this.#pendingByIp.set(ip, n);
    else this.#pendingByIp.delete(ip);
  }
}
