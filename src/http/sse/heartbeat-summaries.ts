import type { DeviceRecord } from '../../store/store.js';
import { toHeartbeatDevice, type HeartbeatDevice } from './views.js';

export interface HeartbeatSummary {
  interval_s: number;
  /** Heartbeats received since the previous summary. */
  count: number;
  /** Devices that heartbeated since then, with their latest metrics (at most maxDevices). */
  devices: HeartbeatDevice[];
  /** More devices heartbeated than are listed. */
  truncated: boolean;
}

export interface HeartbeatSummariesOptions {
  maxDevices: number;
  activeTasks(deviceId: string): number;
  publish(summary: HeartbeatSummary): void;
}

interface Window {
  timer: NodeJS.Timeout;
  readers: number;
  count: number;
  devices: Map<string, DeviceRecord>;
  isTruncated: boolean;
}

/**
 * Heartbeats are too many to stream one by one (≈2k/s at 10k devices), so
 * `/stream/devices` gets a summary per interval. Each interval a client asks
 * for has one timer, which runs only while someone reads it.
 */
export class HeartbeatSummaries {
  readonly #opts: HeartbeatSummariesOptions;
  readonly #windows = new Map<number, Window>();

  constructor(opts: HeartbeatSummariesOptions) {
    this.#opts = opts;
  }

  get activeIntervals(): number[] {
    return [...this.#windows.keys()];
  }

  record(device: DeviceRecord): void {
    for (const w of this.#windows.values()) {
      w.count += 1;
      if (w.devices.has(device.device_id) || w.devices.size < this.#opts.maxDevices) w.devices.set(device.device_id, device);
      else w.isTruncated = true;
    }
  }

  /** A reader of summaries every `intervalS`; call the returned function when it leaves. */
  acquire(intervalS: number): () => void {
    const w = this.#windows.get(intervalS) ?? this.#open(intervalS);
    w.readers += 1;
    let isReleased = false;
    return () => {
      if (isReleased) return;
      isReleased = true;
      w.readers -= 1;
      if (w.readers > 0) return;
      clearInterval(w.timer);
      this.#windows.delete(intervalS);
    };
  }

  close(): void {
    for (const w of this.#windows.values()) clearInterval(w.timer);
    this.#windows.clear();
  }

  #open(intervalS: number): Window {
    const timer = setInterval(() => this.#emit(intervalS), intervalS * 1000);
    timer.unref();
    const w: Window = { timer, readers: 0, count: 0, devices: new Map(), isTruncated: false };
    this.#windows.set(intervalS, w);
    return w;
  }

  #emit(intervalS: number): void {
    const w = this.#windows.get(intervalS);
    if (!w) return;
    const devices = [...w.devices.values()].map((d) => toHeartbeatDevice(d, this.#opts.activeTasks(d.device_id)));
    const summary: HeartbeatSummary = { interval_s: intervalS, count: w.count, devices, truncated: w.isTruncated };
    w.count = 0;
    w.devices = new Map();
    w.isTruncated = false;
    this.#opts.publish(summary);
  }
}
