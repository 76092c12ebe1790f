import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import ndjson from 'ndjson';
import { waitFor } from './wait.js';

export type Frame = {
  message_type: string;
  sender_id: string;
  receiver_id: string | null;
  message_id: string;
  timestamp: string;
  data: Record<string, unknown>;
};

/**
 * A raw TCP peer for wire tests. It decodes what the master writes with the
 * `ndjson` package, an implementation independent of ours, so our encoder is
 * checked against a second parser. It can also misbehave on purpose.
 */
export class WireClient {
  readonly frames: Frame[] = [];
  closed = false;
  readonly #socket: Socket;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.pipe(ndjson.parse({ strict: true })).on('data', (f: Frame) => this.frames.push(f));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(new WireClient(socket)));
      socket.once('error', reject);
    });
  }

  get socket(): Socket {
    return this.#socket;
  }

  writeRaw(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.#socket.write(data, (err) => (err ? reject(err) : resolve())));
  }

  send(frame: Frame): Promise<void> {
    return this.writeRaw(`${JSON.stringify(frame)}\n`);
  }

  /** Wait for the reply naming `messageId` as its original_message_id. */
  reply(messageId: string, timeoutMs = 5000): Promise<Frame> {
    return waitFor(() => this.frames.find((f) => f.data['original_message_id'] === messageId), timeoutMs, `reply to ${messageId}`, 10);
  }

  waitForFrames(count: number, timeoutMs = 5000): Promise<Frame[]> {
    return waitFor(() => (this.frames.length >= count ? this.frames : null), timeoutMs, `${count} frames (have ${this.frames.length})`, 10);
  }

  waitClosed(timeoutMs = 5000): Promise<true> {
    return waitFor(() => this.closed, timeoutMs, 'connection closed', 10);
  }

  async request(frame: Frame): Promise<Frame> {
    await this.send(frame);
    return this.reply(frame.message_id);
  }

  close(): void {
    this.#socket.destroy();
  }
}

export function frame(type: string, data: Record<string, unknown>, sender = 'test-client'): Frame {
  return { message_type: type, sender_id: sender, receiver_id: 'master', message_id: randomUUID(), timestamp: new Date().toISOString(), data };
}

/**
 * Talk like the original Python Retire-Cluster: connect, send ONE JSON object
 * with no trailing newline, read one reply, close (its client reads with one
 * recv()). Resolves with the parsed reply.
 */
export function oneShot(port: number, message: object): Promise<Frame> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(JSON.stringify(message)));
    let buf = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`one-shot: no reply within 5 s (got ${JSON.stringify(buf)})`));
    }, 5000);
    socket.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl === -1) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(JSON.parse(buf.slice(0, nl)) as Frame);
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** A register message as the Python project's worker builds it (naive timestamp, hardware at the top level). */
export function pythonRegister(deviceId: string): object {
  return {
    message_type: 'register',
    sender_id: deviceId,
    receiver_id: null,
    message_id: randomUUID(),
    timestamp: '2024-05-01T12:00:00.123456',
    data: {
      device_id: deviceId,
      role: 'mobile',
      platform: 'android',
      platform_details: { system: 'Linux', is_android: true, environment: 'termux' },
      has_psutil: true,
      cpu_count: 8,
      cpu_count_logical: 8,
      memory_total_gb: 3.72,
      memory_available_gb: 1.2,
      storage_total_gb: 52.1,
      hostname: 'localhost',
      ip_address: '192.0.2.10',
      capabilities: { computational: ['mobile_compute', 'low_power'], services: ['network_tasks'], automation: [] },
      tags: ['linux', 'android', 'mobile', 'termux'],
      max_concurrent_tasks: 2,
      worker_config: { heartbeat_interval: 60, main_host: 'nas', main_port: 8080 },
    },
  };
}

export function pythonHeartbeat(deviceId: string): object {
  return {
    message_type: 'heartbeat',
    sender_id: deviceId,
    receiver_id: null,
    message_id: randomUUID(),
    timestamp: '2024-05-01T12:00:30.5',
    data: { metrics: { timestamp: '2024-05-01T12:00:30.5', device_id: deviceId, cpu_usage: 12.5, memory_usage: 61.2, storage_usage: 40.1, load_average_1m: 0.5 } },
  };
}
