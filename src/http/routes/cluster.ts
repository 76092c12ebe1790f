import type { FastifyInstance } from 'fastify';
import { collectClusterStatus, renderStatus, statusFields } from '../cluster-status.js';
import { assertKnownParams, tableFormat, type RawQuery } from '../query-params.js';
import type { HttpDeps } from '../server.js';

/** /text/status and /api/v1/cluster/status. */
export function registerClusterRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get<{ Querystring: RawQuery }>('/text/status', async (req, reply) => {
    assertKnownParams(req.query, ['format']);
    const format = tableFormat(req.query, req.headers.accept);
    const { type, body } = renderStatus(statusFields(await collectClusterStatus(deps)), format);
    return reply.type(type).send(body);
  });
  app.get<{ Querystring: RawQuery }>('/api/v1/cluster/status', async (req) => {
    assertKnownParams(req.query, []);
    return collectClusterStatus(deps);
  });
}
