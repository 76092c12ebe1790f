import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { systemClock, type Clock } from '../common/clock.js';
import { ERROR_CODES } from '../common/errors.js';
import { isMessageType } from '../protocol/types.js';
import { PRIORITIES, TASK_STATUSES, type Store, type TaskRecord } from '../store/store.js';
import { MAX_DEVICE_SERIES, snapshotDevices, type DeviceGaugeRow, type DeviceSnapshot } from './metrics/device-snapshot.js';
import { TaskStateTracker } from './metrics/task-tracker.js';
import type { DeviceRegistry } from './registry.js';
import type { TaskService } from './tasks/task-service.js';

export { MAX_DEVICE_SERIES } from './metrics/device-snapshot.js';

export interface MetricsDeps {
  registry: DeviceRegistry;
  tasks: TaskService;
  store: Store;
  /** Open wire connections now. */
  openConnections(): number;
  /** Times a task's return to the queue (for queue wait); the master's clock. Defaults to the system clock. */
  clock?: Clock;
}

/** Every metric name starts with this, the process metrics included. */
export const METRIC_PREFIX = 'rc_';

/** The SSE streams; their series exist (at 0) before the first client. */
export const SSE_STREAMS = ['devices', 'tasks', 'task_output', 'logs'] as const;

/** Seconds, from 1 ms to 1 h. */
export const DURATION_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/** A label value outside the known set (message types, error codes) is counted under this. */
const OTHER = 'other';
/** The device snapshot is reused within one scrape, and never for longer than this. */
const SNAPSHOT_MAX_AGE_MS = 1000;

type DeviceField = Exclude<keyof DeviceGaugeRow, 'device_id'>;

/**
 * One prom-client Registry per master instance (two masters can share a
 * process in tests); never the global default registry. Counters move on
 * events; gauges that mirror the registry and the task table are computed at
 * scrape time (STYLE §5). Task counts by status are kept in memory from
 * TaskService 'task' events so that a scrape never counts the task table.
 */
export class MasterMetrics {
  readonly register = new Registry();
  readonly #deps: MetricsDeps;
  readonly #clock: Clock;
  readonly #taskStates: TaskStateTracker;
  readonly #wireMessages: Counter<'type'>;
  readonly #protocolErrors: Counter<'code'>;
  readonly #httpErrors: Counter<'code' | 'status'>;
  readonly #truncatedOutputs: Counter;
  readonly #heartbeats: Counter;
  readonly #sseClients: Gauge<'stream'>;
  readonly #sseDropped: Counter<'stream'>;
  readonly #sseOpen = new Map<string, number>();
  readonly #taskDuration: Histogram<'task_type'>;
  readonly #queueWait: Histogram<'task_type'>;
  readonly #unsubscribe: Array<() => void> = [];
  #snapshot: { at: number; generation: number; value: DeviceSnapshot } | null = null;
  #deviceGeneration = 0;

  constructor(deps: MetricsDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? systemClock;
    this.#taskStates = new TaskStateTracker(deps.store);
    const registers = [this.register];

    // ---- devices
    this.#gauge('rc_devices', 'Devices known to the master, by liveness state.', ['state'], (g) => {
      for (const [state, n] of Object.entries(this.#devices().byState)) g.set({ state }, n);
    });
    this.#deviceGauge('rc_device_cpu_usage_percent', 'CPU use of a device that is not offline (0–100), from its last heartbeat.', 'cpu_usage');
    this.#deviceGauge('rc_device_memory_usage_percent', 'Memory use of a device that is not offline (0–100), from its last heartbeat.', 'memory_usage');
    this.#deviceGauge('rc_device_battery_percent', 'Battery charge of a device that is not offline (0–100), from its last heartbeat.', 'battery_percent');
    this.#deviceGauge('rc_device_temperature_celsius', 'Temperature of a device that is not offline, from its last heartbeat.', 'temperature_c');
    this.#gauge('rc_device_metrics_omitted', `Devices left out of the per-device gauges by the ${MAX_DEVICE_SERIES}-device cap.`, [], (g) => {
      g.set(this.#devices().omitted);
    });
    this.#heartbeats = new Counter({ name: 'rc_heartbeats_total', help: 'Heartbeats accepted from devices.', registers });

    // ---- tasks
    this.#gauge('rc_tasks', 'Tasks by status (queued: in the scheduler queue now).', ['status'], (g) => {
      for (const status of TASK_STATUSES) {
        g.set({ status }, status === 'queued' ? sum(Object.values(deps.tasks.queueSizes())) : this.#taskStates.count(status));
      }
    });
    this.#gauge('rc_tasks_queued', 'Tasks waiting in the scheduler queue, by base priority.', ['priority'], (g) => {
      const sizes = deps.tasks.queueSizes();
      for (const priority of PRIORITIES) g.set({ priority }, sizes[priority] ?? 0);
    });
    this.#taskDuration = new Histogram({
      name: 'rc_task_duration_seconds',
      help: 'Run time of tasks that reached a final state after starting (finished − started).',
      labelNames: ['task_type'] as const,
      buckets: DURATION_BUCKETS_S,
      registers,
    });
    this.#queueWait = new Histogram({
      name: 'rc_task_queue_wait_seconds',
      help: 'Time from creation (or the last return to the queue) to assignment, observed at each assignment.',
      labelNames: ['task_type'] as const,
      buckets: DURATION_BUCKETS_S,
      registers,
    });

    this.#gauge('rc_store_writable', 'Whether the last task commit to the store succeeded (1) or commits are failing and being retried (0).', [], (g) => {
      g.set(deps.tasks.storeWritable ? 1 : 0);
    });

    // ---- wire
    this.#gauge('rc_wire_connections', 'Open wire (TCP) connections.', [], (g) => g.set(deps.openConnections()));
    this.#wireMessages = new Counter({ name: 'rc_wire_messages_total', help: 'Wire messages received, by message_type.', labelNames: ['type'] as const, registers });
    this.#protocolErrors = new Counter({ name: 'rc_protocol_errors_total', help: 'Frames rejected with an error frame, by error code.', labelNames: ['code'] as const, registers });

    this.#httpErrors = new Counter({ name: 'rc_http_errors_total', help: 'HTTP requests answered with an error (auth, limits, bad input), by code and status.', labelNames: ['code', 'status'] as const, registers });

    this.#truncatedOutputs = new Counter({ name: 'rc_task_output_truncated_total', help: 'Task results whose output was cut at the output cap.', registers });
    const countTruncated = (t: TaskRecord): void => {
      if (t.finished_at_ms !== null && t.result?.truncated === true) this.#truncatedOutputs.inc();
    };
    deps.tasks.on('task', countTruncated);
    this.#unsubscribe.push(() => deps.tasks.off('task', countTruncated));

    // ---- SSE
    this.#sseClients = new Gauge({ name: 'rc_sse_clients', help: 'Open server-sent-event clients, by stream.', labelNames: ['stream'] as const, registers });
    this.#sseDropped = new Counter({ name: 'rc_sse_clients_dropped_total', help: 'SSE clients the master disconnected (e.g. too slow to read), by stream.', labelNames: ['stream'] as const, registers });
    for (const stream of SSE_STREAMS) {
      this.#sseClients.set({ stream }, 0);
      this.#sseDropped.inc({ stream }, 0);
    }

    // ---- process
    collectDefaultMetrics({ register: this.register, prefix: METRIC_PREFIX });

    // ---- events
    const onHeartbeat = (): void => {
      this.#heartbeats.inc();
      this.#deviceGeneration += 1;
    };
    const onDeviceChange = (): void => void (this.#deviceGeneration += 1);
    const onTask = (task: TaskRecord): void => this.#onTask(task);
    deps.registry.on('heartbeat', onHeartbeat);
    deps.registry.on('registered', onDeviceChange);
    deps.registry.on('state', onDeviceChange);
    deps.tasks.on('task', onTask);
    this.#unsubscribe.push(
      () => deps.registry.off('heartbeat', onHeartbeat),
      () => deps.registry.off('registered', onDeviceChange),
      () => deps.registry.off('state', onDeviceChange),
      () => deps.tasks.off('task', onTask),
    );
  }

  countWireMessage(messageType: string): void {
    this.#wireMessages.inc({ type: isMessageType(messageType) ? messageType : OTHER });
  }

  countProtocolError(code: string): void {
    this.#protocolErrors.inc({ code: Object.hasOwn(ERROR_CODES, code) ? code : OTHER });
  }

  /** An HTTP error answer: limits (413, 429) and auth failures are counted here. */
  countHttpError(code: string, status: number): void {
    this.#httpErrors.inc({ code: Object.hasOwn(ERROR_CODES, code) ? code : OTHER, status: String(status) });
  }

  sseClientOpened(stream: string): void {
    this.#setSse(stream, (this.#sseOpen.get(stream) ?? 0) + 1);
  }

  sseClientClosed(stream: string): void {
    this.#setSse(stream, Math.max(0, (this.#sseOpen.get(stream) ?? 0) - 1));
  }

  sseClientDropped(stream: string): void {
    this.#sseDropped.inc({ stream });
  }

  /** The content type of `render()`: Prometheus text format 0.0.4. */
  get contentType(): string {
    return this.register.contentType;
  }

  /** Prometheus text exposition format. */
  async render(): Promise<string> {
    // prom-client writes NaN as `Nan` (e.g. event-loop stats before the first
    // sample); Prometheus reads it either way, but the format says `NaN`.
    return (await this.register.metrics()).replace(/^([^#\n].*) Nan$/gm, '$1 NaN');
  }

  /** Stop listening to the registry and the task service (the registry keeps its values). */
  close(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
  }

  #gauge<T extends string>(name: string, help: string, labelNames: readonly T[], collect: (g: Gauge<T>) => void): Gauge<T> {
    return new Gauge<T>({
      name,
      help,
      labelNames,
      registers: [this.register],
      collect() {
        collect(this);
      },
    });
  }

  #deviceGauge(name: string, help: string, field: DeviceField): void {
    this.#gauge(name, help, ['device_id'], (g) => {
      // Rebuilt at each scrape: a device that went offline (or away) loses its series.
      g.reset();
      for (const row of this.#devices().rows) {
        const v = row[field];
        if (v !== null) g.set({ device_id: row.device_id }, v);
      }
    });
  }

  /** One pass over the registry per scrape, shared by the device gauges. */
  #devices(): DeviceSnapshot {
    const now = Date.now();
    const cached = this.#snapshot;
    if (cached && cached.generation === this.#deviceGeneration && now - cached.at < SNAPSHOT_MAX_AGE_MS) return cached.value;
    const value = snapshotDevices(this.#deps.registry.list());
    this.#snapshot = { at: now, generation: this.#deviceGeneration, value };
    return value;
  }

  #onTask(task: TaskRecord): void {
    const seen = this.#taskStates.onTask(task, this.#clock.now());
    if (seen.queueWaitMs !== null) this.#queueWait.observe({ task_type: task.task_type }, seen.queueWaitMs / 1000);
    if (seen.durationMs !== null) this.#taskDuration.observe({ task_type: task.task_type }, seen.durationMs / 1000);
  }

  #setSse(stream: string, n: number): void {
    this.#sseOpen.set(stream, n);
    this.#sseClients.set({ stream }, n);
  }

}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
