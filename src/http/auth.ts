import type { FastifyRequest } from 'fastify';
import { RcError } from '../common/errors.js';
import { secretsEqual } from '../master/secrets.js';
import { TokenBucket } from '../transport/limits.js';

/** Client IPs tracked for the write rate; beyond this the idle ones are forgotten. */
const MAX_TRACKED_IPS = 10_000;

export interface WriteGuardOptions {
  apiToken: string;
  /** Writes per minute per client IP (bursts up to the same number). */
  writesPerMinute: number;
}

/**
 * Every request that changes something needs `Authorization: Bearer <api
 * token>` (401 when it is missing, 403 when it is wrong), and each client IP
 * has a rate limit on writes (429).
 */
export function requireWriteAccess(opts: WriteGuardOptions): (req: FastifyRequest) => Promise<void> {
  const checkToken = requireApiToken(opts.apiToken);
  const buckets = new Map<string, TokenBucket>();
  return async (req) => {
    await checkToken(req);
    if (!bucketFor(buckets, req.ip, opts.writesPerMinute).take(Date.now())) {
      throw new RcError('RC_ERR_LIMIT_RATE', `more than ${opts.writesPerMinute} writes a minute from ${req.ip}; slow down`, { status: 429 });
    }
  };
}

export function requireApiToken(apiToken: string): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    const header = req.headers.authorization;
    if (header === undefined || header === '') {
      throw new RcError('RC_ERR_AUTH_REQUIRED', 'this request needs Authorization: Bearer <api token> (see <data-dir>/api-token on the master)', { status: 401 });
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match || !secretsEqual(match[1]!, apiToken)) {
      throw new RcError('RC_ERR_AUTH_INVALID', 'the API token is wrong', { status: 403 });
    }
  };
}

function bucketFor(buckets: Map<string, TokenBucket>, ip: string, perMinute: number): TokenBucket {
  let bucket = buckets.get(ip);
  if (bucket === undefined) {
    if (buckets.size >= MAX_TRACKED_IPS) buckets.clear();
    bucket = new TokenBucket(perMinute / 60, perMinute, Date.now());
    buckets.set(ip, bucket);
  }
  return bucket;
}
