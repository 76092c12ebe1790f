const WINDOW = 20;

/**
 * Health of a device for placement: the success ratio of its last results.
 * A device with no history is assumed healthy (1).
 */
export class DeviceHealth {
  readonly #recent = new Map<string, boolean[]>();

  record(deviceId: string, succeeded: boolean): void {
    let outcomes = this.#recent.get(deviceId);
    if (!outcomes) {
      outcomes = [];
      this.#recent.set(deviceId, outcomes);
    }
    outcomes.push(succeeded);
    if (outcomes.length > WINDOW) outcomes.shift();
  }

  score(deviceId: string): number {
    const outcomes = this.#recent.get(deviceId);
    if (!outcomes || outcomes.length === 0) return 1;
    return outcomes.filter(Boolean).length / outcomes.length;
  }
}
