import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../server.js';

/** /metrics and /text/metrics. STUB (issue #4). */
export function registerMetricsRoutes(_app: FastifyInstance, _deps: HttpDeps): void {}
