/**
 * The power and thermal policy of a worker (issue #7): when to stop taking
 * new tasks so that a phone in a drawer never drains or cooks its battery.
 * Pure: fed one reading at a time, it keeps only its hysteresis state.
 *
 * - On battery, pause below `pause_below_pct` and resume only above
 *   `resume_above_pct` (30 % / 40 %): between the two the state holds, so a
 *   charge wobbling around one threshold never flaps.
 * - `only_when_charging`: run only while plugged in.
 * - Pause above `pause_above_c` and resume at `pause_above_c − resume_delta_c`.
 * - An unknown value never pauses: we do not guess.
 */
export interface PowerPolicyConfig {
  pauseBelowPct: number;
  resumeAbovePct: number;
  onlyWhenCharging: boolean;
  pauseAboveC: number;
  resumeDeltaC: number;
}

export const PHONE_DEFAULTS: Readonly<PowerPolicyConfig> = Object.freeze({
  pauseBelowPct: 30,
  resumeAbovePct: 40,
  onlyWhenCharging: false,
  pauseAboveC: 45,
  resumeDeltaC: 5,
});

export interface PowerReading {
  /** 0–100, or null when unknown or there is no battery. */
  batteryPercent: number | null;
  /** On external power (charging or full), or null when unknown. */
  plugged: boolean | null;
  /** The hottest known sensor (battery, thermal zones), °C, or null. */
  temperatureC: number | null;
}

export class PowerPolicy {
  readonly #cfg: PowerPolicyConfig;
  #lowBattery = false;
  #hot = false;

  constructor(cfg: PowerPolicyConfig) {
    this.#cfg = cfg;
  }

  /** Feed a reading; returns why new tasks should not start now, or null to run. */
  update(r: PowerReading): string | null {
    this.#lowBattery = this.#nextLowBattery(r);
    this.#hot = this.#nextHot(r.temperatureC);
    if (this.#hot) return `temperature ${formatNumber(r.temperatureC)}°C`;
    if (this.#cfg.onlyWhenCharging && r.plugged === false) return `not charging${r.batteryPercent === null ? '' : ` (battery ${formatNumber(r.batteryPercent)}%)`}`;
    if (this.#lowBattery) return `battery ${formatNumber(r.batteryPercent)}%`;
    return null;
  }

  #nextLowBattery(r: PowerReading): boolean {
    // Plugged in (or unknown): charging is never a reason to wait.
    if (r.batteryPercent === null || r.plugged !== false) return false;
    if (this.#lowBattery) return r.batteryPercent <= this.#cfg.resumeAbovePct;
    return r.batteryPercent < this.#cfg.pauseBelowPct;
  }

  #nextHot(celsius: number | null): boolean {
    if (celsius === null) return false;
    if (this.#hot) return celsius > this.#cfg.pauseAboveC - this.#cfg.resumeDeltaC;
    return celsius > this.#cfg.pauseAboveC;
  }
}

function formatNumber(n: number | null): string {
  return n === null ? '?' : String(Math.round(n * 10) / 10);
}
