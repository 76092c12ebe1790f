import type { Logger } from '../../common/logger.js';
import type { HeartbeatMetrics } from '../../protocol/types.js';
import { PowerPolicy, type PowerPolicyConfig, type PowerReading } from './policy.js';
import type { TermuxBattery } from './readings.js';

type Reading = PowerReading & { termux: TermuxBattery | null };

export interface PowerMonitorOptions {
  policy: PowerPolicyConfig;
  read: () => Promise<Reading>;
  intervalMs: number;
  log: Logger;
  /** Called when the pause state changes (the worker then tells the master at once). */
  onChange: (reason: string | null) => void;
}

/**
 * Samples the power readings on a timer, runs them through the policy, and
 * holds the current pause reason for the heartbeat and the task runner.
 */
export class PowerMonitor {
  readonly #opts: PowerMonitorOptions;
  readonly #policy: PowerPolicy;
  #reason: string | null = null;
  #last: Reading | null = null;
  #timer: NodeJS.Timeout | null = null;
  #sampling = false;

  constructor(opts: PowerMonitorOptions) {
    this.#opts = opts;
    this.#policy = new PowerPolicy(opts.policy);
  }

  get reason(): string | null {
    return this.#reason;
  }

  /** The first sample is awaited, so a worker that starts paused says so in its first heartbeat. */
  async start(): Promise<void> {
    this.#timer = setInterval(() => void this.sample(), this.#opts.intervalMs);
    this.#timer.unref();
    await this.sample();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  async sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      const reading = await this.#opts.read();
      this.#last = reading;
      const reason = this.#policy.update(reading);
      if (reason === this.#reason) return;
      this.#reason = reason;
      this.#opts.log.info({ pause_reason: reason, battery_percent: reading.batteryPercent, plugged: reading.plugged, temperature_c: reading.temperatureC }, reason === null ? 'power: resuming' : 'power: pausing new tasks');
      this.#opts.onChange(reason);
    } finally {
      this.#sampling = false;
    }
  }

  /** Adds what only the power readings know (Termux battery details, a thermal-zone temperature). */
  enrich(metrics: HeartbeatMetrics): HeartbeatMetrics {
    const r = this.#last;
    if (r === null) return metrics;
    if (r.termux !== null) {
      metrics.battery = { percent: r.termux.percent, charging: r.termux.plugged, plugged: r.termux.plugged, temperature_c: r.termux.temperatureC, health: r.termux.health };
    }
    if ((metrics.temperature_c ?? null) === null && r.temperatureC !== null) metrics.temperature_c = r.temperatureC;
    return metrics;
  }
}
