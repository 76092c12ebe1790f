/**
 * The fleet simulator (issue #8): thousands of lightweight simulated workers
 * in one process, each on its own real TCP connection to a real master,
 * speaking the real protocol — register (with the join-token proof),
 * heartbeats, task_assign → ack → task_result. Tasks are no-ops: a result
 * goes back at once, so the master is what gets measured.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { signRegister } from '../src/protocol/auth.js';
import { createAck, createMessage } from '../src/protocol/codec.js';
import { MASTER_ID, PROTOCOL_VERSION, type Envelope } from '../src/protocol/types.js';

export interface FleetOptions {
  host: string;
  port: number;
  devices: number;
  /** Tasks each simulated device runs at once (its `max_tasks`). */
  slots: number;
  /** The master's join token; null for an --insecure master. */
  joinToken: string | null;
  /** Heartbeat every this many seconds; null = as the master says in the register ack. */
  heartbeatIntervalS?: number | null;
  /** Registers in flight at once (the master caps unregistered connections per IP). */
  connectConcurrency?: number;
  idPrefix?: string;
  /** Called for each task_assign, with the time it arrived (performance.now()). */
  onAssign?: (taskId: string, atMs: number, data: Record<string, unknown>) => void;
  /** Called when the master acknowledges a result (it stores before it acks). */
  onResultAck?: (taskId: string, atMs: number) => void;
}

export interface FleetStats {
  registered: number;
  assigned: number;
  resultsAcked: number;
  heartbeatsSent: number;
  /** Heartbeats that asked for an ack (the others are quiet). */
  heartbeatsAsked: number;
  heartbeatsAcked: number;
  errors: number;
  /** Distinct (task_id, attempt) pairs seen, to check "exactly once". */
  duplicateAssigns: number;
}

export class FleetSim {
  readonly stats: FleetStats = { registered: 0, assigned: 0, resultsAcked: 0, heartbeatsSent: 0, heartbeatsAsked: 0, heartbeatsAcked: 0, errors: 0, duplicateAssigns: 0 };
  readonly #opts: FleetOptions;
  readonly #devices: SimDevice[] = [];
  readonly #seen = new Set<string>();

  private constructor(opts: FleetOptions) {
    this.#opts = opts;
  }

  /** Connects and registers every device; resolves once all are registered. */
  static async start(opts: FleetOptions): Promise<FleetSim> {
    const fleet = new FleetSim(opts);
    const ids = Array.from({ length: opts.devices }, (_, i) => `${opts.idPrefix ?? 'sim'}-${String(i).padStart(5, '0')}`);
    const concurrency = opts.connectConcurrency ?? 24;
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < ids.length) {
        const device = new SimDevice(ids[next++]!, fleet);
        fleet.#devices.push(device);
        await device.connect();
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, lane));
    return fleet;
  }

  get options(): FleetOptions {
    return this.#opts;
  }

  /** Every (task_id, attempt) should arrive once; a repeat is counted. */
  noteAssign(taskId: string, attempt: unknown): void {
    const key = `${taskId}#${String(attempt)}`;
    if (this.#seen.has(key)) this.stats.duplicateAssigns++;
    this.#seen.add(key);
  }

  /** Heartbeats from now on every `seconds` (all devices, spread over the interval). */
  setHeartbeatInterval(seconds: number): void {
    for (const d of this.#devices) d.startHeartbeats(seconds);
  }

  /** No more heartbeats until the next setHeartbeatInterval. */
  stopHeartbeats(): void {
    for (const d of this.#devices) d.stopHeartbeats();
  }

  async close(): Promise<void> {
    for (const d of this.#devices) d.close();
    await sleep(50);
  }
}

class SimDevice {
  readonly #id: string;
  readonly #fleet: FleetSim;
  #socket: Socket | null = null;
  #buffer = '';
  #out: string[] = [];
  #flushScheduled = false;
  #heartbeat: NodeJS.Timeout | null = null;
  #beats = 0;
  #active = 0;
  #registered: ((ok: boolean) => void) | null = null;

  constructor(id: string, fleet: FleetSim) {
    this.#id = id;
    this.#fleet = fleet;
  }

  connect(): Promise<void> {
    const o = this.#fleet.options;
    return new Promise((resolve, reject) => {
      const socket = connect({ host: o.host, port: o.port });
      this.#socket = socket;
      socket.setNoDelay(true);
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => this.#onData(chunk));
      socket.on('error', () => this.#fleet.stats.errors++);
      socket.on('close', () => this.stopHeartbeats());
      socket.once('connect', () => {
        this.#registered = (ok) => (ok ? resolve() : reject(new Error(`${this.#id}: register refused`)));
        this.#send(this.#registerFrame());
      });
      socket.once('error', reject);
    });
  }

  startHeartbeats(seconds: number): void {
    this.stopHeartbeats();
    const ms = seconds * 1000;
    // Spread the fleet over the interval, as real devices that booted at different times are.
    const first = setTimeout(() => {
      this.#beat();
      this.#heartbeat = setInterval(() => this.#beat(), ms);
    }, Math.random() * ms);
    this.#heartbeat = first;
  }

  close(): void {
    this.stopHeartbeats();
    this.#socket?.destroy();
  }

  #registerFrame(): Envelope {
    const o = this.#fleet.options;
    const data: Record<string, unknown> = {
      protocol_version: PROTOCOL_VERSION,
      device_id: this.#id,
      hostname: this.#id,
      role: 'sim',
      platform: 'linux',
      arch: 'x64',
      hardware: { cpu_count: 4, memory_total_gb: 4, storage_total_gb: 32, gpu: false, has_battery: false },
      task_types: ['echo', 'sleep'],
      max_tasks: o.slots,
    };
    if (o.joinToken !== null) data['auth'] = signRegister('join-hmac-sha256', o.joinToken, this.#id);
    return createMessage('register', data, { sender: this.#id, receiver: MASTER_ID });
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let nl = this.#buffer.indexOf('\n');
    while (nl >= 0) {
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      if (line.length > 0) this.#onMessage(JSON.parse(line) as Envelope);
      nl = this.#buffer.indexOf('\n');
    }
  }

  #onMessage(msg: Envelope): void {
    const stats = this.#fleet.stats;
    const data = msg.data as Record<string, unknown>;
    if (msg.message_type === 'task_assign') return this.#runNoop(msg, data);
    if (msg.message_type === 'error') {
      stats.errors++;
      this.#registered?.(false);
      this.#registered = null;
      return;
    }
    if (msg.message_type !== 'ack') return;
    const result = (data['result'] ?? {}) as Record<string, unknown>;
    if (this.#registered !== null) {
      stats.registered++;
      const interval = this.#fleet.options.heartbeatIntervalS ?? Number(result['heartbeat_interval'] ?? 15);
      this.startHeartbeats(interval);
      this.#registered(true);
      this.#registered = null;
    } else if (typeof result['task_id'] === 'string' && 'recorded' in result) {
      stats.resultsAcked++;
      this.#fleet.options.onResultAck?.(result['task_id'], performance.now());
    } else if ('heartbeat_interval' in result) {
      stats.heartbeatsAcked++;
    }
  }

  /** A no-op task: accept the assignment, report success at once. */
  #runNoop(msg: Envelope, data: Record<string, unknown>): void {
    const taskId = String(data['task_id']);
    this.#fleet.stats.assigned++;
    this.#fleet.noteAssign(taskId, data['attempt']);
    this.#fleet.options.onAssign?.(taskId, performance.now(), data);
    // Like the real worker: a quiet assignment (PROTOCOL §5.9) is not acknowledged.
    if (data['reply'] !== false) this.#send(createAck(msg, { task_id: taskId, attempt: data['attempt'] }, this.#id));
    this.#active++;
    const result = { task_id: taskId, attempt: data['attempt'], status: 'succeeded', result: { output: '', exit_code: 0, error: null, duration_s: 0, truncated: false } };
    this.#send(createMessage('task_result', result, { sender: this.#id, receiver: MASTER_ID }));
    this.#active--;
  }

  /** Like the real worker (PROTOCOL §5.2): every 3rd heartbeat asks for an ack, the rest are quiet. */
  #beat(): void {
    const stats = this.#fleet.stats;
    stats.heartbeatsSent++;
    const ask = ++this.#beats % 3 === 0;
    if (ask) stats.heartbeatsAsked++;
    const metrics = { cpu_usage: 10 + Math.random() * 20, memory_usage: 40, active_tasks: this.#active };
    const data = ask ? { device_id: this.#id, metrics } : { device_id: this.#id, metrics, reply: false };
    this.#send(createMessage('heartbeat', data, { sender: this.#id, receiver: MASTER_ID }));
  }

  /** Frames written in one turn leave in one socket write, as a real peer should. */
  #send(msg: Envelope): void {
    this.#out.push(`${JSON.stringify(msg)}\n`);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      const batch = this.#out.join('');
      this.#out = [];
      if (this.#socket && !this.#socket.destroyed) this.#socket.write(batch);
    });
  }

  stopHeartbeats(): void {
    if (this.#heartbeat !== null) {
      clearTimeout(this.#heartbeat);
      clearInterval(this.#heartbeat);
    }
    this.#heartbeat = null;
  }
}
