import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isoTime } from '../common/iso-time.js';

/** PROTOCOL §4.8: what a register proves, and with which key. */
export type AuthScheme = 'join-hmac-sha256' | 'device-hmac-sha256';

export interface RegisterAuth {
  scheme: AuthScheme;
  /** ISO 8601 UTC; the master accepts ±5 minutes around its own clock. */
  timestamp: string;
  /** Random, at least 16 hex characters; each is accepted once. */
  nonce: string;
  /** hex HMAC-SHA256(key, proofInput(device_id, timestamp, nonce)). */
  proof: string;
}

/** The exact bytes that are signed: a fixed label, then the fields, newline-separated. */
export function proofInput(deviceId: string, timestamp: string, nonce: string): string {
  return `rc-register-v1\n${deviceId}\n${timestamp}\n${nonce}`;
}

export function computeProof(key: string, deviceId: string, timestamp: string, nonce: string): string {
  return createHmac('sha256', key).update(proofInput(deviceId, timestamp, nonce)).digest('hex');
}

/** Build the `auth` object a worker puts in register. The key itself never goes on the wire. */
export function signRegister(scheme: AuthScheme, key: string, deviceId: string, now: Date = new Date()): RegisterAuth {
  const timestamp = isoTime(now.getTime());
  const nonce = randomBytes(16).toString('hex');
  return { scheme, timestamp, nonce, proof: computeProof(key, deviceId, timestamp, nonce) };
}

/** Constant-time check of a presented proof. */
export function proofMatches(key: string, deviceId: string, auth: RegisterAuth): boolean {
  const expected = Buffer.from(computeProof(key, deviceId, auth.timestamp, auth.nonce), 'hex');
  const given = Buffer.from(auth.proof, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
