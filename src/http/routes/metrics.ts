import type { FastifyInstance, FastifyReply } from 'fastify';
import type { HttpDeps } from '../server.js';

/**
 * Prometheus exposition at /metrics, and the same body at /text/metrics
 * (next to the other /text/ views). Read-only, so no API token.
 */
export function registerMetricsRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const scrape = async (_req: unknown, reply: FastifyReply): Promise<string> => {
    const body = await deps.metrics.render();
    void reply.type(deps.metrics.contentType).header('cache-control', 'no-store');
    return body;
  };
  app.get('/metrics', scrape);
  app.get('/text/metrics', scrape);
}
