import { existsSync, readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { RcError } from '../../common/errors.js';

/**
 * GET /worker.js and /worker.js.sha256 (issue #7): the one-file worker built
 * by `npm run build`. It holds no secret, so it needs no token. Read once and
 * kept: it is ~1.4 MB and phones fetch it over slow Wi-Fi, often several at once.
 */
export function registerWorkerDist(app: FastifyInstance, bundleFile: string): void {
  let cached: { body: Buffer; sha256: string } | null = null;
  const load = (): { body: Buffer; sha256: string } => {
    if (cached !== null) return cached;
    if (!existsSync(bundleFile)) {
      throw new RcError('RC_ERR_NOT_FOUND', `the worker bundle was not built (${bundleFile}); run npm run build on the master`, { status: 404 });
    }
    cached = { body: readFileSync(bundleFile), sha256: readFileSync(`${bundleFile}.sha256`, 'utf8') };
    return cached;
  };
  app.get('/worker.js', async (_req, reply) => {
    const { body } = load();
    return reply.type('application/javascript; charset=utf-8').header('content-disposition', 'attachment; filename="rc-worker.js"').send(body);
  });
  app.get('/worker.js.sha256', async (_req, reply) => reply.type('text/plain; charset=utf-8').send(load().sha256));
}
