import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../server.js';

/** /stream/logs, /stream/tasks, /stream/devices (SSE) and /text/logs. STUB (issue #4). */
export function registerStreamRoutes(_app: FastifyInstance, _deps: HttpDeps): { close(): void } {
  return { close: () => undefined };
}
