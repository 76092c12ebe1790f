import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyError } from 'fastify';
import { isRcError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { DeviceRegistry } from '../master/registry.js';
import { registerDevicesText } from './routes/devices-text.js';

export interface HttpDeps {
  registry: DeviceRegistry;
  log: Logger;
  version: string;
  startedAtMs: number;
}

/** The people-facing HTTP server (the first slice: /health and /text/devices). */
export function buildHttpServer(deps: HttpDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'req_id' }),
    // Streams (SSE, later) must not keep close() waiting.
    forceCloseConnections: true,
    bodyLimit: 1024 * 1024,
  });
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (isRcError(err)) {
      return reply.status(err.status).send({ code: err.code, error: httpReason(err.status), message: err.message });
    }
    const status = err.statusCode ?? 500;
    if (status >= 500) deps.log.error({ err }, 'http handler failed');
    return reply.status(status).send({ code: err.code ?? 'RC_ERR_INTERNAL', error: httpReason(status), message: err.message });
  });
  app.get('/health', async () => ({
    status: 'ok',
    version: deps.version,
    uptime_s: Math.round((Date.now() - deps.startedAtMs) / 1000),
  }));
  registerDevicesText(app, deps.registry);
  return app;
}

function httpReason(status: number): string {
  const reasons: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };
  return reasons[status] ?? (status >= 500 ? 'Internal Server Error' : 'Error');
}
