import type { FastifyRequest } from 'fastify';
import { RcError } from '../common/errors.js';
import { secretsEqual } from '../master/secrets.js';

/**
 * Every request that changes something needs `Authorization: Bearer <api token>`.
 * 401 when it is missing, 403 when it is wrong.
 */
export function requireApiToken(apiToken: string): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    const header = req.headers.authorization;
    if (header === undefined || header === '') {
      throw new RcError('RC_ERR_AUTH_REQUIRED', 'this request changes the cluster: send Authorization: Bearer <api token> (see <data-dir>/api-token on the master)', { status: 401 });
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match || !secretsEqual(match[1]!, apiToken)) {
      throw new RcError('RC_ERR_AUTH_INVALID', 'the API token is wrong', { status: 403 });
    }
  };
}
