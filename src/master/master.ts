import { mkdirSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { writeFileAtomic } from '../common/atomic-file.js';
import { systemClock, type Clock } from '../common/clock.js';
import type { MasterConfig } from '../common/config.js';
import type { Logger } from '../common/logger.js';
import { packageVersion } from '../common/version.js';
import { findPackageRoot } from '../common/package-root.js';
import { buildHttpServer } from '../http/server.js';
import { MASTER_ID, type Envelope, type MessageType } from '../protocol/types.js';
import type { Store } from '../store/store.js';
import { ProtocolError } from '../common/errors.js';
import { Connection, type ConnectionHandlers } from '../transport/connection.js';
import { ConnectionGate } from '../transport/limits.js';
import { loadTlsMaterial, type TlsMaterial } from '../transport/tls.js';
import { createServer as createTlsServer } from 'node:tls';
import { hostname } from 'node:os';
import { handleMessage, type HandlerContext } from './handlers/index.js';
import { livenessTickMs } from './liveness.js';
import { DeviceRegistry } from './registry.js';
import { LogFeed } from './log-feed.js';
import { MasterMetrics } from './metrics.js';
import { Enrolment } from './enrolment.js';
import { API_TOKEN_FILE, JOIN_TOKEN_FILE, loadOrCreateSecret } from './secrets.js';
import { TaskService } from './tasks/task-service.js';

export interface MasterDeps {
  config: Readonly<MasterConfig>;
  store: Store;
  log: Logger;
  logs?: LogFeed;
  clock?: Clock;
}

export interface BoundPorts {
  tcp_port: number;
  http_port: number;
}

const PRUNE_EVERY_MS = 60 * 1000;
/** Where `npm run build` puts the one-file worker (src/tools/bundle-worker.ts). */
const WORKER_BUNDLE = 'dist/worker/rc-worker.cjs';
/** On SIGTERM, how long worker connections may take to close after their last acks. */
const CONNECTION_LINGER_MS = 1000;
/** ~50 ms of SQLite work per slice measured here; slices yield to the event loop between them. */
const PRUNE_SLICE_ROWS = 10_000;
const PRUNE_MAX_SLICES = 100;

/** The composition root: wires store, registry, wire handlers and HTTP. */
export class Master {
  readonly registry: DeviceRegistry;
  readonly tasks: TaskService;
  readonly metrics: MasterMetrics;
  /** The master's own log lines (for /stream/logs); the CLI tees pino into it. */
  readonly logs: LogFeed;
  readonly #deps: MasterDeps;
  readonly #log: Logger;
  readonly #connections = new Set<Connection>();
  readonly #deviceConnections = new Map<string, Connection>();
  readonly #registerDeadlines = new Map<Connection, NodeJS.Timeout>();
  /** Connections counted by the gate, with their IP, until they close. */
  readonly #admitted = new Map<Connection, string>();
  readonly #registeredConns = new WeakSet<Connection>();
  readonly #gate: ConnectionGate;
  readonly #ctx: HandlerContext;
  readonly #startedAtMs = Date.now();
  #tcp: Server | null = null;
  #tls: TlsMaterial | null = null;
  /** The worker port, once bound (the configured one before that, e.g. for /join while the queue loads). */
  #tcpPort = 0;
  #http: FastifyInstance | null = null;
  #timers: NodeJS.Timeout[] = [];
  #closing: Promise<void> | null = null;

  constructor(deps: MasterDeps) {
    this.#deps = deps;
    this.#log = deps.log;
    const cfg = deps.config;
    this.registry = new DeviceRegistry({
      store: deps.store,
      clock: deps.clock ?? systemClock,
      log: deps.log.child({ component: 'registry' }),
      heartbeatIntervalMs: cfg.heartbeat_interval_s * 1000,
      offlineAfterMs: cfg.offline_after_s * 1000,
      flaps: { windowMs: cfg.flap_window_s * 1000, threshold: cfg.flap_threshold },
    });
    this.tasks = new TaskService({
      store: deps.store,
      registry: this.registry,
      clock: deps.clock ?? systemClock,
      log: deps.log.child({ component: 'tasks' }),
      config: cfg,
      send: (deviceId, msg) => this.#sendToDevice(deviceId, msg),
      isConnected: (deviceId) => this.#deviceConnections.has(deviceId),
    });
    this.#gate = new ConnectionGate({ maxConnections: cfg.max_connections, maxPendingPerIp: cfg.max_pending_per_ip });
    this.logs = deps.logs ?? new LogFeed();
    this.metrics = new MasterMetrics({
      registry: this.registry,
      tasks: this.tasks,
      store: deps.store,
      openConnections: () => this.#connections.size,
      clock: deps.clock ?? systemClock,
    });
    this.#ctx = {
      registry: this.registry,
      tasks: this.tasks,
      enrolment: new Enrolment({
        credentials: deps.store,
        clock: deps.clock ?? systemClock,
        joinToken: () => this.joinToken(),
        insecure: cfg.insecure,
      }),
      insecure: cfg.insecure,
      store: deps.store,
      log: deps.log.child({ component: 'wire' }),
      heartbeatIntervalS: cfg.heartbeat_interval_s,
      attachDevice: (deviceId, conn) => this.#attachDevice(deviceId, conn),
    };
  }

  async start(): Promise<BoundPorts> {
    this.#tls = loadTlsMaterial(this.#deps.config.tls_cert, this.#deps.config.tls_key);
    this.registry.load();
    // HTTP serves while the queue loads; workers connect once it is loaded, as
    // their reconnect and results need every active task known (TaskService.load).
    const loading = this.tasks.load();
    loading.catch(() => undefined); // awaited below; this only keeps an early HTTP failure from leaving it unhandled
    const cfg = this.#deps.config;
    this.#tcpPort = cfg.port;
    const apiToken = cfg.api_token ?? loadOrCreateSecret(cfg.data_dir, API_TOKEN_FILE);
    this.#http = buildHttpServer({
      registry: this.registry,
      tasks: this.tasks,
      store: this.#deps.store,
      metrics: this.metrics,
      logs: this.logs,
      apiToken,
      log: this.#log,
      version: packageVersion(),
      startedAtMs: this.#startedAtMs,
      dataDir: cfg.data_dir,
      authReads: cfg.http_auth_reads,
      writesPerMinute: cfg.http_writes_per_min,
      bodyLimitBytes: cfg.http_body_limit_bytes,
      revokeDevice: (id) => this.revokeDevice(id),
      isStopping: () => this.#closing !== null,
      join: () => ({ tcpPort: this.#tcpPort, token: cfg.insecure ? null : this.joinToken(), tlsFingerprint: this.#tls?.fingerprint256.replace(/:/g, '') ?? null }),
      workerBundleFile: join(findPackageRoot(), WORKER_BUNDLE),
      ...(this.#tls ? { tls: { cert: this.#tls.cert, key: this.#tls.key } } : {}),
    });
    await this.#http.listen({ host: cfg.http_host, port: cfg.http_port });
    const httpPort = (this.#http.server.address() as AddressInfo).port;
    await loading;
    const tcpPort = await this.#listenTcp(cfg.host, cfg.port);
    this.#tcpPort = tcpPort;
    const ports = { tcp_port: tcpPort, http_port: httpPort };
    this.#startTimers();
    // The join token exists before master.json announces us: tools read both.
    this.#announceJoin(tcpPort);
    this.#writeRuntimeFile(ports);
    this.#log.info({ host: cfg.host, ...ports, data_dir: cfg.data_dir, devices: this.registry.size, tls: this.#tls !== null }, 'master listening');
    if (this.#tls) this.#log.info({ tls_fingerprint: this.#tls.fingerprint256 }, 'TLS on: workers pin this certificate with --tls-fingerprint');
    if (cfg.api_token === null) {
      this.#log.info({ api_token_file: join(cfg.data_dir, API_TOKEN_FILE) }, 'HTTP writes need Authorization: Bearer <the token in this file>');
    }
    return ports;
  }

  /**
   * The join token: --join-token / RC_JOIN_TOKEN, else `<data-dir>/join-token`
   * (made at first start, mode 0600). Read each time, so `rc-master
   * rotate-token` takes effect without a restart.
   */
  joinToken(): string {
    return this.#deps.config.join_token ?? loadOrCreateSecret(this.#deps.config.data_dir, JOIN_TOKEN_FILE);
  }

  /** Stored first (so it holds across restarts), then the live connection is cut and its tasks move. */
  revokeDevice(deviceId: string): void {
    this.#deps.store.revokeDevice(deviceId);
    this.#log.warn({ device_id: deviceId }, 'device revoked');
    // Its tasks are cancelled there and requeued first (dispatch runs on a later turn)…
    this.tasks.onDeviceRevoked(deviceId);
    const conn = this.#deviceConnections.get(deviceId);
    if (conn) {
      // …then it is detached at once, so they cannot be placed back on it.
      this.#deviceConnections.delete(deviceId);
      this.registry.setConnected(deviceId, false);
      conn.refuse(new ProtocolError('RC_ERR_AUTH_REVOKED', `device ${deviceId} has been revoked`));
    }
  }

  /** One handler set for every connection (each gets the connection): no three closures per device. */
  readonly #connectionHandlers: ConnectionHandlers = {
    onMessage: (msg, c) => {
      this.metrics.countWireMessage(msg.message_type);
      handleMessage(msg, c, this.#ctx);
      if (c.deviceId === null) this.#armRegisterDeadline(c);
    },
    onFrameError: (err) => this.metrics.countProtocolError(err.code),
    onClose: (c) => this.#onConnectionClosed(c),
  };

  /** Serve one peer over any Duplex: TCP, TLS, or an in-memory pair in tests. */
  handleConnection(stream: Duplex): Connection {
    const cfg = this.#deps.config;
    const conn = new Connection(
      stream,
      {
        localId: MASTER_ID,
        maxLineBytes: cfg.max_line_bytes,
        log: this.#ctx.log,
        maxMsgsPerS: cfg.max_msgs_per_s_unregistered,
        maxPendingWriteBytes: cfg.max_pending_write_bytes,
      },
      this.#connectionHandlers,
    );
    this.#connections.add(conn);
    this.#armRegisterDeadline(conn);
    return conn;
  }

  /** PROTOCOL §4.7: an unregistered connection must keep saying something valid. */
  #armRegisterDeadline(conn: Connection): void {
    clearTimeout(this.#registerDeadlines.get(conn));
    const timer = setTimeout(() => {
      this.#registerDeadlines.delete(conn);
      if (conn.deviceId !== null || conn.isClosed) return;
      this.#ctx.log.info({ conn: conn.id, peer: conn.remoteAddress }, 'no register in time; closing');
      conn.refuse(new ProtocolError('RC_ERR_LIMIT_REGISTER_TIMEOUT', `no register or valid query within ${this.#deps.config.register_timeout_s} s; closing`));
    }, this.#deps.config.register_timeout_s * 1000);
    timer.unref();
    this.#registerDeadlines.set(conn, timer);
  }

  /** Idempotent; runs every step even when one fails. */
  close(): Promise<void> {
    this.#closing ??= this.#closeSteps();
    return this.#closing;
  }

  /**
   * PROTOCOL §7.2. The order matters: stop intake first, then commit what is
   * pending while worker connections are still open (so the acks that waited
   * for that commit reach their workers), and only then let connections go.
   */
  async #closeSteps(): Promise<void> {
    this.#log.info('master stopping');
    for (const t of this.#timers) clearInterval(t);
    const tcpClosed = this.#stopListening();
    const steps: Array<[string, () => unknown]> = [
      ['tasks', () => this.tasks.close()],
      ['connections', () => this.#endConnections()],
      ['tcp', () => tcpClosed],
      ['http', () => this.#http?.close()],
      ['heartbeats', () => {
        this.registry.flush();
        this.registry.flushDevices();
      }],
      ['store', () => this.#deps.store.close()],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (err) {
        this.#log.error({ err, step: name }, 'shutdown step failed');
      }
    }
    this.#log.info('master stopped');
  }

  #listenTcp(host: string, port: number): Promise<number> {
    const accept = (socket: Socket): void => this.#acceptSocket(socket);
    const tls = this.#tls;
    // allowHalfOpen: a one-shot peer that sends its object and then FIN still gets its reply.
    const server = tls ? createTlsServer({ allowHalfOpen: true, cert: tls.cert, key: tls.key }, accept) : createServer({ allowHalfOpen: true }, accept);
    this.#tcp = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.#log.error({ err }, 'tcp server error'));
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  #acceptSocket(socket: Socket): void {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const ip = socket.remoteAddress ?? 'unknown';
    const admission = this.#gate.admit(ip);
    const conn = this.handleConnection(socket);
    if (!admission.ok) {
      this.#ctx.log.warn({ peer: ip, limit: admission.limit }, 'connection refused by limit');
      conn.refuse(new ProtocolError('RC_ERR_LIMIT_CONNECTIONS', `connection refused: ${admission.message}`));
      return;
    }
    this.#admitted.set(conn, ip);
  }

  /** No new connections from here on; resolves once the last one is gone. */
  #stopListening(): Promise<void> {
    const server = this.#tcp;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  /** Flush and half-close every connection; cut what has not closed after a moment. */
  async #endConnections(): Promise<void> {
    for (const conn of this.#connections) conn.end();
    const deadline = Date.now() + CONNECTION_LINGER_MS;
    while (this.#connections.size > 0 && Date.now() < deadline) await sleep(20);
    for (const conn of this.#connections) conn.destroy();
  }

  #attachDevice(deviceId: string, conn: Connection): void {
    const previous = this.#deviceConnections.get(deviceId);
    conn.deviceId = deviceId;
    this.#markRegistered(conn);
    if (previous === conn) return;
    this.#deviceConnections.set(deviceId, conn);
    // A re-register from a new socket means the old one is half-open: the newest wins.
    if (previous && !previous.isClosed) {
      this.#log.info({ device_id: deviceId, old_conn: previous.id }, 'replacing stale connection');
      previous.deviceId = null;
      previous.destroy();
    }
    this.registry.setConnected(deviceId, true);
  }

  /** A registered peer leaves the per-IP pending count and gets the registered rate. */
  #markRegistered(conn: Connection): void {
    if (this.#registeredConns.has(conn)) return;
    this.#registeredConns.add(conn);
    clearTimeout(this.#registerDeadlines.get(conn));
    this.#registerDeadlines.delete(conn);
    conn.setRate(this.#deps.config.max_msgs_per_s);
    const ip = this.#admitted.get(conn);
    if (ip !== undefined) this.#gate.registered(ip);
  }

  #onConnectionClosed(conn: Connection): void {
    this.#connections.delete(conn);
    clearTimeout(this.#registerDeadlines.get(conn));
    this.#registerDeadlines.delete(conn);
    const ip = this.#admitted.get(conn);
    if (ip !== undefined) {
      this.#admitted.delete(conn);
      this.#gate.release(ip, !this.#registeredConns.has(conn));
    }
    const deviceId = conn.deviceId;
    if (deviceId === null || this.#deviceConnections.get(deviceId) !== conn) return;
    this.#deviceConnections.delete(deviceId);
    this.registry.setConnected(deviceId, false);
    this.#ctx.log.info({ device_id: deviceId }, 'device disconnected');
  }

  #startTimers(): void {
    const cfg = this.#deps.config;
    const tick = setInterval(() => this.#tick(), livenessTickMs(cfg.heartbeat_interval_s * 1000));
    const prune = setInterval(() => this.#pruneHistory(), PRUNE_EVERY_MS);
    for (const t of [tick, prune]) t.unref();
    this.#timers.push(tick, prune);
  }

  /**
   * Print the exact line that joins a worker (and warn loudly when enrolment
   * is off). The token goes to the terminal only, never into the log, which
   * /stream/logs serves to anyone on the network.
   */
  #announceJoin(tcpPort: number): void {
    const cfg = this.#deps.config;
    const host = cfg.host === '0.0.0.0' || cfg.host === '::' ? hostname() : cfg.host;
    const pin = this.#tls ? ` --tls-fingerprint ${this.#tls.fingerprint256.replace(/:/g, '')}` : '';
    if (cfg.insecure) {
      this.#log.warn('INSECURE: --insecure is set, so any host that reaches the worker port can join as a new device. Use it only on a lab network.');
      process.stderr.write(`join a worker: rc-worker --join ${host}:${tcpPort}${pin}\n`);
      return;
    }
    const token = this.joinToken();
    this.#log.info({ join_token_file: cfg.join_token === null ? join(cfg.data_dir, JOIN_TOKEN_FILE) : '(from config)' }, 'workers join with the join token');
    process.stderr.write(`join a worker: rc-worker --join ${host}:${tcpPort} --token ${token}${pin}\n`);
  }

  #tick(): void {
    this.registry.tick();
    this.tasks.tick();
  }

  #sendToDevice(deviceId: string, msg: Envelope<MessageType, object>): boolean {
    const conn = this.#deviceConnections.get(deviceId);
    if (!conn || conn.isClosed) return false;
    conn.send(msg);
    return true;
  }

  #pruneHistory(slice = 0): void {
    if (this.#closing !== null) return;
    const cutoff = Date.now() - this.#deps.config.heartbeat_retention_s * 1000;
    try {
      const deleted = this.#deps.store.pruneHeartbeats(cutoff, PRUNE_SLICE_ROWS);
      if (deleted > 0) this.#log.debug({ deleted, slice }, 'heartbeat history pruned');
      if (deleted === PRUNE_SLICE_ROWS && slice + 1 < PRUNE_MAX_SLICES) setImmediate(() => this.#pruneHistory(slice + 1));
    } catch (err) {
      this.#log.error({ err }, 'heartbeat prune failed');
    }
  }

  /** `<data-dir>/master.json` tells tools (and tests) where the master listens, even on port 0. */
  #writeRuntimeFile(ports: BoundPorts): void {
    const dir = this.#deps.config.data_dir;
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'master.json');
    const body = {
      pid: process.pid,
      host: this.#deps.config.host,
      ...ports,
      tls_fingerprint: this.#tls?.fingerprint256 ?? null,
      started_at: new Date(this.#startedAtMs).toISOString(),
      version: packageVersion(),
    };
    writeFileAtomic(file, `${JSON.stringify(body, null, 2)}\n`);
  }
}
