import { randomBytes } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import { RcError, type ErrorCode } from '../common/errors.js';
import { proofMatches, type RegisterAuth } from '../protocol/auth.js';
import type { CredentialStore } from '../store/store.js';

/** ±5 minutes around the master's clock (PROTOCOL §4.8). */
export const PROOF_WINDOW_MS = 5 * 60 * 1000;
/** Nonces are remembered a little longer than the window, so a replay always hits the cache. */
const NONCE_TTL_MS = 2 * PROOF_WINDOW_MS + 60_000;
const MAX_NONCES = 100_000;


export interface EnrolmentOptions {
  credentials: CredentialStore;
  clock: Clock;
  /** The current join token (read fresh each time: `rotate-token` changes the file). */
  joinToken(): string;
  /** --insecure: devices may join without proof (enrolled ones still need their secret). */
  insecure: boolean;
}

export type EnrolmentDecision = { ok: true; issueSecret: string | null };

/**
 * Decides whether a register may speak for a device id (PROTOCOL §4.8):
 * an enrolled device proves its own secret; a new one proves the join token
 * once, and is given a secret. A failure throws an RC_ERR_AUTH_* error and
 * changes nothing.
 */
export class Enrolment {
  readonly #opts: EnrolmentOptions;
  readonly #nonces = new Map<string, number>();

  constructor(opts: EnrolmentOptions) {
    this.#opts = opts;
  }

  check(deviceId: string, auth: RegisterAuth | undefined): EnrolmentDecision {
    const credential = this.#opts.credentials.getDeviceCredential(deviceId);
    if (credential?.revoked) throw authError('RC_ERR_AUTH_REVOKED', `device ${deviceId} has been revoked`, 403);
    if (credential) {
      this.#verify(auth, 'device-hmac-sha256', credential.secret, deviceId, `device ${deviceId} is enrolled: prove its device secret`);
      return { ok: true, issueSecret: null };
    }
    if (auth === undefined && this.#opts.insecure) return { ok: true, issueSecret: null };
    this.#verify(auth, 'join-hmac-sha256', this.#opts.joinToken(), deviceId, 'joining needs the join token (rc-worker --token)');
    return { ok: true, issueSecret: randomBytes(32).toString('base64url') };
  }

  /** Store the secret given to a newly enrolled device. */
  enrol(deviceId: string, secret: string): void {
    this.#opts.credentials.setDeviceCredential(deviceId, secret);
  }

  #verify(auth: RegisterAuth | undefined, scheme: RegisterAuth['scheme'], key: string, deviceId: string, missing: string): void {
    if (auth === undefined) throw authError('RC_ERR_AUTH_REQUIRED', missing, 401);
    if (auth.scheme !== scheme) throw authError('RC_ERR_AUTH_INVALID', `${missing} (got ${auth.scheme})`, 403);
    const ts = Date.parse(auth.timestamp);
    const now = this.#opts.clock.now();
    if (!Number.isFinite(ts) || Math.abs(now - ts) > PROOF_WINDOW_MS) {
      throw authError('RC_ERR_AUTH_EXPIRED', 'the register timestamp is more than 5 minutes from the master\'s clock (check the device\'s time)', 401);
    }
    if (!proofMatches(key, deviceId, auth)) throw authError('RC_ERR_AUTH_INVALID', 'the proof does not match', 403);
    // Only after the proof checks out: a stranger cannot fill the nonce cache.
    this.#rememberNonce(`${deviceId}:${auth.nonce}`, now);
  }

  #rememberNonce(key: string, now: number): void {
    const seen = this.#nonces.get(key);
    if (seen !== undefined && seen > now) throw authError('RC_ERR_AUTH_REPLAY', 'this register was already used (replayed nonce)', 401);
    if (this.#nonces.size >= MAX_NONCES) this.#pruneNonces(now);
    this.#nonces.set(key, now + NONCE_TTL_MS);
  }

  #pruneNonces(now: number): void {
    for (const [key, expires] of this.#nonces) if (expires <= now) this.#nonces.delete(key);
    // Still full of live nonces, which only token holders can make: dropping the oldest
    // is the lesser evil than refusing every legitimate device from now on.
    while (this.#nonces.size >= MAX_NONCES) {
      const oldest = this.#nonces.keys().next().value;
      if (oldest === undefined) break;
      this.#nonces.delete(oldest);
    }
  }
}

function authError(code: ErrorCode, message: string, status: number): RcError {
  return new RcError(code, message, { status });
}
