import { EventEmitter } from 'node:events';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { DeviceEventRow, DeviceProfile, DeviceRecord, DeviceState, HeartbeatRow, Store } from '../store/store.js';
import { FlapTracker, type FlapOptions } from './flap-tracker.js';
import { deriveState, type LivenessOptions } from './liveness.js';

export interface RegistryOptions extends LivenessOptions {
  store: Store;
  clock: Clock;
  log: Logger;
  /** Heartbeats are written in batches of at most this many rows… */
  heartbeatBatchSize?: number;
  /** …or after this long, whichever comes first. */
  heartbeatFlushMs?: number;
  /** When a device counts as unstable (issue #6); default 3 drops in 10 minutes. */
  flaps?: FlapOptions;
}

/** How often device rows get their last_seen / last metrics written (heartbeat history is written per batch). */
const DEVICE_TOUCH_EVERY_MS = 30_000;

/** A heartbeat's pause_reason when the worker stops on purpose (PROTOCOL §7.2): not a flap. */
const STOPPING_REASON = 'shutting down';

export interface DeviceFilter {
  state?: DeviceState | 'all';
  role?: string;
  /** The device must carry every one of these tags. */
  tags?: readonly string[];
  device_id?: string;
}

/** What the registry announces (for SSE streams and metrics). */
export interface RegistryEvents {
  registered: [DeviceRecord];
  heartbeat: [DeviceRecord];
  state: [StateChange];
  drained: [{ device_id: string; drained: boolean }];
}

export interface StateChange {
  device_id: string;
  from: DeviceState;
  to: DeviceState;
}

const SEVERITY: Record<DeviceState, number> = { online: 0, suspect: 1, offline: 2 };

/** The order of every device list; a page cursor (`after=<device_id>`) must use the same one. */
export function compareDeviceIds(a: string, b: string): number {
  return a.localeCompare(b);
}

function matches(device: DeviceRecord, filter: DeviceFilter): boolean {
  if (filter.state && filter.state !== 'all' && device.state !== filter.state) return false;
  if (filter.role && device.profile.role !== filter.role) return false;
  if (filter.device_id !== undefined && device.device_id !== filter.device_id) return false;
  return (filter.tags ?? []).every((tag) => device.profile.tags.includes(tag));
}

function isWorse(next: DeviceState, current: DeviceState): boolean {
  return SEVERITY[next] > SEVERITY[current];
}

/**
 * The live device table. Reads are served from memory; every change is written
 * through to the store. Heartbeat history is batched because at 10k devices it
 * is ~2k rows/s, and one transaction per row would be the bottleneck.
 */
export class DeviceRegistry extends EventEmitter<RegistryEvents> {
  readonly #devices = new Map<string, DeviceRecord>();
  readonly #connected = new Set<string>();
  readonly #drained = new Set<string>();
  readonly #flapOpts: FlapOptions;
  /** Devices whose last_seen / metrics changed since their row was last written. */
  readonly #dirty = new Set<string>();
  #lastTouchMs = 0;
  readonly #flaps: FlapTracker;
  readonly #opts: RegistryOptions;
  #pendingHeartbeats: HeartbeatRow[] = [];
  #flushTimer: NodeJS.Timeout | null = null;

  constructor(opts: RegistryOptions) {
    super();
    this.#opts = opts;
    this.#flapOpts = opts.flaps ?? { windowMs: 600_000, threshold: 3 };
    this.#flaps = new FlapTracker(this.#flapOpts);
  }

  /** Load devices from the store. After a restart nobody has proven to be alive; drained ones stay drained. */
  load(): void {
    for (const { drained, ...device } of this.#opts.store.loadDevices()) {
      this.#devices.set(device.device_id, { ...device, state: 'offline' });
      if (drained === true) this.#drained.add(device.device_id);
    }
  }

  get size(): number {
    return this.#devices.size;
  }

  get(deviceId: string): DeviceRecord | undefined {
    return this.#devices.get(deviceId);
  }

  isConnected(deviceId: string): boolean {
    return this.#connected.has(deviceId);
  }

  /** A drained device gets no new tasks; its running ones finish. */
  isDrained(deviceId: string): boolean {
    return this.#drained.has(deviceId);
  }

  /**
   * Drain or undrain a known device. The flag is written to the store first
   * (it must survive a restart; a StoreError leaves memory unchanged), then
   * recorded as a device event with the reason. Returns false for an
   * unknown device; setting the current value again changes nothing.
   */
  setDrained(deviceId: string, drained: boolean, reason: string | null = null): boolean {
    if (!this.#devices.has(deviceId)) return false;
    if (drained === this.#drained.has(deviceId)) return true;
    this.#opts.store.setDeviceDrained(deviceId, drained);
    if (drained) this.#drained.add(deviceId);
    else this.#drained.delete(deviceId);
    const kind = drained ? 'drained' : 'undrained';
    this.#recordEvents([{ device_id: deviceId, ts_ms: this.#opts.clock.now(), kind, detail: { reason } }]);
    this.#opts.log.info({ device_id: deviceId, reason }, `device ${kind}`);
    this.emit('drained', { device_id: deviceId, drained });
    return true;
  }

  /** How many devices are drained now. */
  get drainedCount(): number {
    return this.#drained.size;
  }

  /** Devices matching every given filter, ordered by compareDeviceIds. */
  /** Every device, unsorted: for the scheduler's hot path, where list()'s sort is wasted. */
  all(): IterableIterator<DeviceRecord> {
    return this.#devices.values();
  }

  list(filter: DeviceFilter = {}): DeviceRecord[] {
    const out: DeviceRecord[] = [];
    for (const device of this.#devices.values()) {
      if (matches(device, filter)) out.push(device);
    }
    return out.sort((a, b) => compareDeviceIds(a.device_id, b.device_id));
  }

  register(deviceId: string, profile: DeviceProfile, ipAddress: string | null): DeviceRecord {
    const now = this.#opts.clock.now();
    const previous = this.#devices.get(deviceId);
    const device: DeviceRecord = {
      device_id: deviceId,
      profile,
      ip_address: ipAddress,
      state: 'online',
      first_seen_ms: previous?.first_seen_ms ?? now,
      last_seen_ms: now,
      registered_at_ms: now,
      last_metrics: withoutPause(previous?.last_metrics ?? null),
    };
    this.#opts.store.upsertDevice(device);
    this.#devices.set(deviceId, device);
    this.emit('registered', device);
    this.#recordEvents([{ device_id: deviceId, ts_ms: now, kind: 'registered', detail: { ip_address: ipAddress, previous_state: previous?.state ?? null } }]);
    return device;
  }

  /** Returns false when the device is unknown (it must register first). */
  heartbeat(deviceId: string, metrics: Record<string, unknown>): boolean {
    const device = this.#devices.get(deviceId);
    if (!device) return false;
    const now = this.#opts.clock.now();
    device.last_seen_ms = now;
    device.last_metrics = metrics;
    this.#dirty.add(deviceId);
    if (device.state !== 'online') this.#applyStateChanges([{ device_id: deviceId, from: device.state, to: 'online' }], now);
    this.#queueHeartbeat({ device_id: deviceId, ts_ms: now, metrics });
    this.emit('heartbeat', device);
    return true;
  }

  setConnected(deviceId: string, connected: boolean): void {
    if (connected === this.#connected.has(deviceId)) return;
    if (connected) this.#connected.add(deviceId);
    else this.#connected.delete(deviceId);
    const kind = connected ? 'connected' : 'disconnected';
    const now = this.#opts.clock.now();
    this.#recordEvents([{ device_id: deviceId, ts_ms: now, kind, detail: {} }]);
    if (!connected) this.#countDrop(deviceId, now);
  }

  /** Connection drops within the flap window (a worker stopping on purpose does not count). */
  flapCount(deviceId: string): number {
    return this.#flaps.count(deviceId, this.#opts.clock.now());
  }

  isUnstable(deviceId: string): boolean {
    return this.#flaps.isUnstable(deviceId, this.#opts.clock.now());
  }

  #countDrop(deviceId: string, now: number): void {
    if (this.#devices.get(deviceId)?.last_metrics?.['pause_reason'] === STOPPING_REASON) return;
    if (!this.#flaps.recordDrop(deviceId, now)) return;
    const drops = this.#flaps.count(deviceId, now);
    this.#recordEvents([{ device_id: deviceId, ts_ms: now, kind: 'unstable', detail: { drops, window_s: this.#flapOpts.windowMs / 1000 } }]);
    this.#opts.log.warn({ device_id: deviceId, drops }, 'device connection keeps dropping; marked unstable');
  }

  /** Re-derive every device's state; persist and return what changed. */
  tick(): StateChange[] {
    const now = this.#opts.clock.now();
    const changes: StateChange[] = [];
    for (const device of this.#devices.values()) {
      const next = deriveState(device.last_seen_ms, now, this.#opts);
      // Time only demotes: coming back up takes a register or heartbeat (after a
      // restart a recent last_seen proves nothing about the device now).
      if (isWorse(next, device.state)) changes.push({ device_id: device.device_id, from: device.state, to: next });
    }
    if (changes.length > 0) this.#applyStateChanges(changes, now);
    return changes;
  }

  /** Write queued heartbeats now (on a timer, and at shutdown). */
  flush(): void {
    if (this.#flushTimer !== null) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = null;
    }
    if (this.#pendingHeartbeats.length === 0) return;
    const batch = this.#pendingHeartbeats;
    this.#pendingHeartbeats = [];
    try {
      this.#opts.store.appendHeartbeats(batch);
    } catch (err) {
      // Heartbeat history is telemetry: losing one batch must not take the master down.
      this.#opts.log.error({ err, rows: batch.length }, 'heartbeat batch not persisted');
    }
    if (this.#opts.clock.now() - this.#lastTouchMs >= DEVICE_TOUCH_EVERY_MS) this.flushDevices();
  }

  /**
   * Write each device's last_seen and last metrics (memory has them at once;
   * the rows follow every DEVICE_TOUCH_EVERY_MS and at shutdown). After a
   * crash a device's stored last_seen may be that much older: it is offline
   * after a restart either way, until it speaks.
   */
  flushDevices(): void {
    this.#lastTouchMs = this.#opts.clock.now();
    if (this.#dirty.size === 0) return;
    const rows: HeartbeatRow[] = [];
    for (const id of this.#dirty) {
      const d = this.#devices.get(id);
      if (d) rows.push({ device_id: id, ts_ms: d.last_seen_ms, metrics: d.last_metrics ?? {} });
    }
    this.#dirty.clear();
    try {
      this.#opts.store.touchDevices(rows);
    } catch (err) {
      this.#opts.log.error({ err, rows: rows.length }, 'device last_seen not persisted');
    }
  }

  #applyStateChanges(changes: StateChange[], now: number): void {
    for (const change of changes) {
      const device = this.#devices.get(change.device_id);
      if (device) device.state = change.to;
      this.emit('state', change);
      this.#opts.log.info({ device_id: change.device_id, from: change.from, to: change.to }, 'device state changed');
    }
    try {
      this.#opts.store.updateDeviceStates(changes.map((c) => ({ device_id: c.device_id, state: c.to })));
    } catch (err) {
      this.#opts.log.error({ err }, 'device states not persisted');
    }
    this.#recordEvents(changes.map((c) => ({ device_id: c.device_id, ts_ms: now, kind: 'state_changed', detail: { from: c.from, to: c.to } })));
  }

  #recordEvents(events: DeviceEventRow[]): void {
    try {
      this.#opts.store.recordDeviceEvents(events);
    } catch (err) {
      this.#opts.log.error({ err, events: events.length }, 'device events not persisted');
    }
  }

  #queueHeartbeat(row: HeartbeatRow): void {
    this.#pendingHeartbeats.push(row);
    if (this.#pendingHeartbeats.length >= (this.#opts.heartbeatBatchSize ?? 500)) {
      this.flush();
      return;
    }
    if (this.#flushTimer === null) {
      this.#flushTimer = setTimeout(() => this.flush(), this.#opts.heartbeatFlushMs ?? 200);
      this.#flushTimer.unref();
    }
  }
}

/** A pause is the state of one run of the worker: a fresh register starts unpaused until it says otherwise. */
function withoutPause(metrics: Record<string, unknown> | null): Record<string, unknown> | null {
  if (metrics === null || !('paused' in metrics || 'pause_reason' in metrics)) return metrics;
  const { paused: _paused, pause_reason: _reason, ...rest } = metrics;
  return rest;
}
