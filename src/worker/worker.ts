import { EventEmitter } from 'node:events';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { nextDelay } from '../common/backoff.js';
import type { WorkerConfig } from '../common/config.js';
import type { Logger } from '../common/logger.js';
import { sameFingerprint } from '../transport/tls.js';
import type { HeartbeatMetrics, RegisterData } from '../protocol/types.js';
import { Session } from './session.js';
import type { WorkerCredentials } from './credentials.js';
import type { TaskRunner } from './task-runner.js';

export type WorkerStatus = 'connecting' | 'registered' | 'backing_off' | 'closed';

export interface WorkerDeps {
  config: Readonly<WorkerConfig>;
  log: Logger;
  deviceId: string;
  master: { host: string; port: number };
  collectProfile(): Promise<RegisterData>;
  sampleMetrics(activeTasks: number): Promise<HeartbeatMetrics>;
  runner: TaskRunner;
  credentials: WorkerCredentials;
  /** Why this device takes no new task now (e.g. a power policy), or null; sent in heartbeats. */
  pauseReason?: () => string | null;
  /** SIGTERM waits this long for running tasks before giving them back. */
  shutdownGraceMs?: number;
  random?: () => number;
  /** Opens the stream to the master; injectable so tests can put a hostile proxy in between. */
  dial?: (host: string, port: number) => Promise<Duplex>;
}

const CONNECT_TIMEOUT_MS = 10_000;
type SessionOutcome = 'registered' | 'refused' | 'unreachable';

/** What the backoff log line says, so a refused register is not mistaken for a network problem. */
const RETRY_MESSAGES: Record<SessionOutcome, string> = {
  registered: 'connection to master lost; reconnecting',
  refused: 'master refused the register; retrying',
  unreachable: 'master unreachable; retrying',
};

/** On SIGTERM, how long the "shutting down" heartbeat may wait for its answer. */
const PAUSE_NOTICE_MS = 2_000;
/** On SIGTERM, how long results may take to reach the master before we go. */
const RESULT_FLUSH_MS = 5_000;

/**
 * The worker's connect loop: connect → register → heartbeat, and on any loss,
 * back off with full jitter and try again, forever (PROTOCOL §7). Status
 * changes are emitted as 'status' events that tests can await.
 */
export class Worker extends EventEmitter {
  status: WorkerStatus = 'connecting';
  readonly deviceId: string;
  readonly #deps: WorkerDeps;
  readonly #abort = new AbortController();
  #session: Session | null = null;
  #loop: Promise<void> | null = null;
  #closing: Promise<void> | null = null;
  #stopping = false;

  constructor(deps: WorkerDeps) {
    super();
    this.#deps = deps;
    this.deviceId = deps.deviceId;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /**
   * Idempotent. Stops taking tasks, lets running ones finish for the grace
   * period (the rest are given back), waits briefly for their results to be
   * acknowledged, then closes the connection and the loop.
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeSteps();
    return this.#closing;
  }

  async #closeSteps(): Promise<void> {
    this.#stopping = true;
    // Say so first, so the master stops assigning here (and does not count the
    // disconnect as a flap); a master that does not answer soon is not waited for.
    const told = this.#session?.heartbeatNow() ?? Promise.resolve();
    await Promise.race([told, sleep(PAUSE_NOTICE_MS)]);
    const grace = this.#deps.shutdownGraceMs ?? 0;
    if (this.#deps.runner.executor.activeCount > 0) this.#deps.log.info({ grace_s: grace / 1000 }, 'stopping: waiting for running tasks');
    await this.#deps.runner.executor.close(grace);
    await this.#deps.runner.flush(RESULT_FLUSH_MS);
    this.#abort.abort();
    this.#session?.close();
    await this.#loop;
    this.#setStatus('closed');
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#abort.signal.aborted) {
      this.#setStatus('connecting');
      const { outcome, reason } = await this.#runSession();
      if (outcome === 'registered') attempt = 0;
      if (this.#abort.signal.aborted) break;
      const delayMs = nextDelay(attempt++, this.#backoff(), this.#deps.random);
      this.#setStatus('backing_off');
      this.#deps.log.info({ delay_ms: delayMs, attempt, ...(reason === undefined ? {} : { reason }) }, RETRY_MESSAGES[outcome]);
      await sleep(delayMs, undefined, { signal: this.#abort.signal }).catch(() => undefined);
    }
  }

  /** One connection's life; resolves when it ends, saying how far it got (and, if it could not connect, why). */
  async #runSession(): Promise<{ outcome: SessionOutcome; reason?: string }> {
    const { host, port } = this.#deps.master;
    let stream: Duplex;
    try {
      stream = await (this.#deps.dial ?? dialMaster(this.#deps.config))(host, port);
    } catch (err) {
      // A certificate mismatch is worth a warning every time: it may be an impostor.
      const level = String((err as Error).message).includes('does not match') ? 'warn' : 'debug';
      this.#deps.log[level]({ err, host, port }, 'connect failed');
      return { outcome: 'unreachable', reason: connectFailure(err) };
    }
    const deps = { ...this.#deps, pauseReason: () => this.#pauseReason() };
    const session = new Session(stream, deps, this.#deps.runner, (s) => this.#setStatus(s));
    this.#session = session;
    if (this.#abort.signal.aborted) session.close();
    const registered = await session.done;
    this.#session = null;
    if (registered) return { outcome: 'registered' };
    return { outcome: session.refused ? 'refused' : 'unreachable' };
  }

  /** The power policy paused or resumed: tell the master now, not at the next heartbeat. */
  pauseChanged(): void {
    void this.#session?.heartbeatNow();
  }

  #pauseReason(): string | null {
    return this.#stopping ? 'shutting down' : (this.#deps.pauseReason?.() ?? null);
  }

  #backoff(): { baseMs: number; maxMs: number } {
    return { baseMs: this.#deps.config.backoff_base_s * 1000, maxMs: this.#deps.config.backoff_max_s * 1000 };
  }

  #setStatus(status: WorkerStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.emit('status', status);
  }
}

/**
 * Why a connect failed, in one line for the retry log: the system's code
 * (ECONNREFUSED, ENOTFOUND, …) or the message's first line. OpenSSL's
 * "wrong version number" means the other end does not speak TLS.
 */
export function connectFailure(err: unknown): string {
  const { code, message } = err as { code?: unknown; message?: unknown };
  const text = String(message ?? err).split('\n')[0]!;
  if (/wrong version number/i.test(text)) return 'TLS handshake failed: the master is not serving TLS on this port (drop --tls, or start rc-master with --tls-cert and --tls-key)';
  return typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
}

/** Plain TCP, or TLS when configured: pinned by fingerprint, else verified against the system CAs. */
function dialMaster(config: Readonly<WorkerConfig>): (host: string, port: number) => Promise<Duplex> {
  const pin = config.tls_fingerprint;
  if (pin === null && !config.tls) return dialTcp;
  return (host, port) => dialTls(host, port, pin);
}

function dialTcp(host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port, timeout: CONNECT_TIMEOUT_MS });
    socket.once('connect', () => {
      tune(socket);
      resolve(socket);
    });
    socket.once('timeout', () => socket.destroy(new Error(`connect to ${host}:${port} timed out`)));
    socket.once('error', reject);
  });
}

async function dialTls(host: string, port: number, pin: string | null): Promise<Duplex> {
  // Loaded on first use: node:tls and its modules cost an idle worker on plain TCP about 0.3 MB.
  const { connect: tlsConnect } = await import('node:tls');
  return new Promise((resolve, reject) => {
    // With a pin, the CA chain does not matter (a self-signed NAS cert is fine); the pin does.
    const socket = tlsConnect({ host, port, timeout: CONNECT_TIMEOUT_MS, rejectUnauthorized: pin === null, servername: isIP(host) ? undefined : host });
    socket.once('secureConnect', () => {
      const seen = socket.getPeerCertificate().fingerprint256;
      if (pin !== null && !sameFingerprint(seen, pin)) {
        socket.destroy();
        reject(new Error(`the master's certificate ${seen} does not match --tls-fingerprint ${pin}`));
        return;
      }
      tune(socket);
      resolve(socket);
    });
    socket.once('timeout', () => socket.destroy(new Error(`connect to ${host}:${port} timed out`)));
    socket.once('error', reject);
  });
}

function tune(socket: Socket): void {
  socket.setTimeout(0);
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 30_000);
}
