import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../server.js';

/** /api/v1/devices, /api/v1/devices/:id, drain and undrain. STUB (issue #4). */
export function registerDeviceRoutes(_app: FastifyInstance, _deps: HttpDeps): void {}
