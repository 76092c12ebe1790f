import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../server.js';

/** /text/status and /api/v1/cluster/status. STUB (issue #4). */
export function registerClusterRoutes(_app: FastifyInstance, _deps: HttpDeps): void {}
