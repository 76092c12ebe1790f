import type { Logger } from '../../common/logger.js';
import type { LogEntry } from '../../master/log-feed.js';
import type { RegistryEvents } from '../../master/registry.js';
import type { DeviceRecord, TaskRecord } from '../../store/store.js';
import { HeartbeatSummaries, type HeartbeatSummary } from './heartbeat-summaries.js';
import { SseChannel } from './sse-channel.js';
import { SseConnection, type CloseReason, type SseSink } from './sse-connection.js';
import type { SseOptions } from './sse-options.js';
import { TaskStreams } from './task-streams.js';
import { compactTaskView, type TaskOutputLine } from './views.js';

/** Metric label of each stream. */
export type StreamName = 'logs' | 'tasks' | 'task_output' | 'devices';

type EventMap<E> = { [K in keyof E]: unknown[] };

/** An event source the hub listens to (DeviceRegistry, TaskService, LogFeed, or a fake). */
export interface Emitter<E extends EventMap<E>> {
  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): unknown;
  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): unknown;
}

export interface TaskEvents {
  task: [TaskRecord];
  output: [TaskOutputLine];
}

export interface StreamHubDeps {
  registry: Emitter<RegistryEvents>;
  tasks: Emitter<TaskEvents> & { get(taskId: string): TaskRecord | null; activeCountOn(deviceId: string): number };
  logs: Emitter<{ entry: [LogEntry] }>;
  metrics: { sseClientOpened(stream: string): void; sseClientClosed(stream: string): void; sseClientDropped(stream: string): void };
  log: Pick<Logger, 'warn'>;
  options: SseOptions;
  now?: () => number;
}

/** Device stream events carry the summary interval they belong to (null: for every reader). */
type DeviceMeta = number | null;

/**
 * Every SSE stream of one master: listens to the registry, the task service
 * and the log feed, keeps the rings, and serves clients. Listeners run
 * synchronously and never wait for a client.
 */
export class StreamHub {
  readonly logs: SseChannel<number>;
  readonly tasks: SseChannel<null>;
  readonly devices: SseChannel<DeviceMeta>;
  readonly taskStreams: TaskStreams;
  readonly #deps: StreamHubDeps;
  readonly #summaries: HeartbeatSummaries;
  readonly #conns = new Set<SseConnection>();
  readonly #unlisten: Array<() => void> = [];
  readonly #sweep: NodeJS.Timeout;
  #isClosed = false;

  constructor(deps: StreamHubDeps) {
    this.#deps = deps;
    const o = deps.options;
    const now = deps.now ?? Date.now;
    this.logs = new SseChannel<number>(o.ringSize);
    this.tasks = new SseChannel<null>(o.ringSize);
    this.devices = new SseChannel<DeviceMeta>(o.ringSize);
    this.taskStreams = new TaskStreams({ ringSize: o.taskRingSize, maxStreams: o.maxTaskStreams, maxChars: o.taskRingsMaxChars, keepEndedMs: o.keepEndedTaskMs, now });
    this.#summaries = new HeartbeatSummaries({
      maxDevices: o.heartbeatsMaxDevices,
      activeTasks: (id) => deps.tasks.activeCountOn(id),
      publish: (s: HeartbeatSummary) => this.devices.publish('heartbeats', JSON.stringify(s), s.interval_s),
    });
    this.#listen();
    this.#sweep = setInterval(() => this.taskStreams.sweep(), Math.min(o.keepEndedTaskMs, 10_000));
    this.#sweep.unref();
  }

  get clientCount(): number {
    return this.#conns.size;
  }

  openLogs(sink: SseSink, afterId: number | null, minLevel: number): void {
    this.#open('logs', sink, (conn) => this.logs.attach(conn, afterId, (level) => level >= minLevel));
  }

  openTasks(sink: SseSink, afterId: number | null): void {
    this.#open('tasks', sink, (conn) => this.tasks.attach(conn, afterId));
  }

  /** One task's output and state; a fresh client gets the whole ring, since the task's start. */
  openTask(sink: SseSink, task: TaskRecord, afterId: number | null): void {
    this.#open('task_output', sink, (conn) => this.taskStreams.attach(conn, task, afterId ?? 0));
  }

  openDevices(sink: SseSink, afterId: number | null, intervalS: number): void {
    this.#open('devices', sink, (conn) => {
      const release = this.#summaries.acquire(intervalS);
      const detach = this.devices.attach(conn, afterId, (meta) => meta === null || meta === intervalS);
      return () => {
        detach();
        release();
      };
    });
  }

  /** End every stream and stop listening; the master is shutting down. Idempotent. */
  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearInterval(this.#sweep);
    for (const off of this.#unlisten.splice(0)) off();
    this.#summaries.close();
    for (const conn of [...this.#conns]) conn.close();
  }

  #open(stream: StreamName, sink: SseSink, attach: (conn: SseConnection) => () => void): void {
    let detach: (() => void) | null = null;
    let isGone = false;
    const conn = new SseConnection(sink, this.#connectionOptions(), (reason) => {
      isGone = true;
      detach?.();
      this.#conns.delete(conn);
      this.#onClosed(stream, reason, conn);
    });
    this.#conns.add(conn);
    this.#count(() => this.#deps.metrics.sseClientOpened(stream));
    conn.open();
    if (this.#isClosed) return conn.close();
    const off = attach(conn);
    // The replay itself may have ended or dropped the client.
    if (isGone) off();
    else detach = off;
  }

  #onClosed(stream: StreamName, reason: CloseReason, conn: SseConnection): void {
    this.#count(() => this.#deps.metrics.sseClientClosed(stream));
    if (reason !== 'dropped') return;
    this.#count(() => this.#deps.metrics.sseClientDropped(stream));
    const lastId = conn.lastWrittenId;
    // Not now: this may run inside a log write (pino → LogFeed → here), and pino is not re-entrant.
    setImmediate(() => this.#deps.log.warn({ stream, last_event_id: lastId }, 'sse client not reading; dropped'));
  }

  /** This runs inside the master's emitters (a drop happens during a publish): a metrics bug must not escape. */
  #count(record: () => void): void {
    try {
      record();
    } catch {
      // metrics are best effort
    }
  }

  #connectionOptions(): ConstructorParameters<typeof SseConnection>[1] {
    const o = this.#deps.options;
    return { maxQueueBytes: o.clientMaxQueueBytes, maxQueueEvents: o.clientMaxQueueEvents, keepAliveMs: o.keepAliveMs, lingerMs: o.lingerMs, retryMs: o.retryMs };
  }

  #listen(): void {
    const { registry, tasks, logs } = this.#deps;
    this.#on(logs, 'entry', (e: LogEntry) => this.logs.publish('log', e.line, e.level));
    this.#on<TaskEvents, 'task'>(tasks, 'task', (t: TaskRecord) => {
      // A shallow copy is a true snapshot: the service replaces, never mutates, a task's nested objects.
      const snapshot = { ...t };
      this.tasks.publish('task', () => JSON.stringify(compactTaskView(snapshot)), null);
      this.taskStreams.publishTask(t);
    });
    this.#on<TaskEvents, 'output'>(tasks, 'output', (line: TaskOutputLine) => this.taskStreams.publishOutput(line, (id) => tasks.get(id)));
    this.#on(registry, 'state', (c) => this.devices.publish('state', JSON.stringify(c), null));
    this.#on(registry, 'registered', (d: DeviceRecord) => this.devices.publish('registered', JSON.stringify(registeredView(d)), null));
    this.#on(registry, 'drained', (d) => this.devices.publish('drained', JSON.stringify(d), null));
    this.#on(registry, 'heartbeat', (d: DeviceRecord) => this.#summaries.record(d));
  }

  #on<E extends EventMap<E>, K extends keyof E & string>(source: Emitter<E>, event: K, listener: (...args: E[K]) => void): void {
    source.on(event, listener);
    this.#unlisten.push(() => source.off(event, listener));
  }
}

function registeredView(d: DeviceRecord): Record<string, unknown> {
  const p = d.profile;
  return { device_id: d.device_id, role: p.role, platform: p.platform, arch: p.arch, tags: p.tags, cpu_count: p.cpu_count, memory_total_gb: p.memory_total_gb, ip_address: d.ip_address, registered_at: new Date(d.registered_at_ms).toISOString() };
}
