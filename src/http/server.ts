import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyError } from 'fastify';
import { isRcError, shuttingDown } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { LogFeed } from '../master/log-feed.js';
import type { MasterMetrics } from '../master/metrics.js';
import type { DeviceRegistry } from '../master/registry.js';
import type { TaskService } from '../master/tasks/task-service.js';
import type { Store } from '../store/store.js';
import { requireApiToken, requireWriteAccess } from './auth.js';
import { registerClusterRoutes } from './routes/cluster.js';
import { registerDevicesText } from './routes/devices-text.js';
import { registerDeviceRoutes } from './routes/devices.js';
import { registerMetricsRoutes } from './routes/metrics.js';
import { registerStreamRoutes } from './routes/streams.js';
import { registerTaskRoutes } from './routes/tasks.js';
import { registerJoinRoute, type JoinDeps } from './routes/join.js';
import { registerWorkerDist } from './routes/worker-dist.js';

export interface HttpDeps {
  registry: DeviceRegistry;
  tasks: TaskService;
  store: Store;
  metrics: MasterMetrics;
  logs: LogFeed;
  apiToken: string;
  /** preHandler for routes that change anything: enforces the API token. */
  requireWrite: ReturnType<typeof requireApiToken>;
  /** Reads need the API token too (everything but /health). */
  authReads: boolean;
  /** Writes per minute per client IP. */
  writesPerMinute: number;
  /** Largest request body; task batches may use all of it. */
  bodyLimitBytes: number;
  log: Logger;
  version: string;
  startedAtMs: number;
  dataDir: string;
  /** Lock a device out for good: stored, disconnected, its tasks moved (PROTOCOL §4.8). */
  revokeDevice(deviceId: string): void;
  /** Serve HTTPS with this certificate and key. */
  tls?: { cert: Buffer; key: Buffer };
  /** For GET /join: the worker port, the join token (null when --insecure) and the TLS pin. */
  join?: JoinDeps['join'];
  /** The one-file worker served at GET /worker.js. */
  workerBundleFile?: string;
  /** True once the master got SIGTERM: writes are refused with 503 (PROTOCOL §7.2). */
  isStopping?: () => boolean;
}

const OPEN_PATHS: ReadonlySet<string> = new Set(['/health', '/worker.js', '/worker.js.sha256']);

/** The people-facing HTTP server: text, JSON, SSE and metrics. */
export function buildHttpServer(deps: Omit<HttpDeps, 'requireWrite'>): FastifyInstance {
  const full: HttpDeps = { ...deps, requireWrite: requireWriteAccess({ apiToken: deps.apiToken, writesPerMinute: deps.writesPerMinute }) };
  const app = Fastify({
    ...(deps.tls ? { https: { cert: deps.tls.cert, key: deps.tls.key } } : {}),
    loggerInstance: deps.log.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'req_id' }),
    // Streams (SSE, later) must not keep close() waiting.
    forceCloseConnections: true,
    bodyLimit: deps.bodyLimitBytes,
  });
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (isRcError(err)) {
      const body: Record<string, unknown> = { code: err.code, error: httpReason(err.status), message: err.message };
      if (err.details !== undefined) body['details'] = err.details;
      deps.metrics.countHttpError(err.code, err.status);
      return reply.status(err.status).send(body);
    }
    const status = err.statusCode ?? 500;
    if (status >= 500) deps.log.error({ err }, 'http handler failed');
    // fastify's own 4xx (bad JSON body, body too large) keep their status, under our code family.
    const code = status >= 500 ? 'RC_ERR_INTERNAL' : 'RC_ERR_HTTP_BAD_REQUEST';
    deps.metrics.countHttpError(code, status);
    return reply.status(status).send({ code, error: httpReason(status), message: err.message });
  });
  const isStopping = deps.isStopping;
  if (isStopping) {
    app.addHook('onRequest', async (req) => {
      if (req.method !== 'GET' && req.method !== 'HEAD' && isStopping()) throw shuttingDown();
    });
  }
  if (deps.authReads) {
    const checkRead = requireApiToken(deps.apiToken);
    // /health stays open (container healthchecks carry no token), and so does the
    // worker bundle: it holds no secret, and a new device has no token yet.
    app.addHook('onRequest', async (req) => {
      if (req.method === 'GET' && !OPEN_PATHS.has(req.url)) await checkRead(req);
    });
  }
  // 200 even while the store fails: restarting the master would not fix a full disk (no crash loop).
  app.get('/health', async () => ({
    status: 'ok',
    store: deps.tasks.storeWritable ? 'ok' : 'failing',
    version: deps.version,
    uptime_s: Math.round((Date.now() - deps.startedAtMs) / 1000),
  }));
  registerDevicesText(app, deps.registry);
  registerTaskRoutes(app, { tasks: deps.tasks, requireWrite: full.requireWrite });
  registerDeviceRoutes(app, full);
  registerClusterRoutes(app, full);
  registerMetricsRoutes(app, full);
  if (deps.workerBundleFile !== undefined) registerWorkerDist(app, deps.workerBundleFile);
  if (deps.join !== undefined) registerJoinRoute(app, { join: deps.join, https: deps.tls !== undefined, checkApiToken: requireApiToken(deps.apiToken) });
  const streams = registerStreamRoutes(app, full);
  // Open SSE responses must never hold close() up.
  app.addHook('preClose', async () => streams.close());
  return app;
}

function httpReason(status: number): string {
  const reasons: Record<number, string> = {
    400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict',
    413: 'Payload Too Large', 415: 'Unsupported Media Type', 429: 'Too Many Requests', 503: 'Service Unavailable',
  };
  return reasons[status] ?? (status >= 500 ? 'Internal Server Error' : 'Error');
}
