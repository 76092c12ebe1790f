import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';

export const API_TOKEN_FILE = 'api-token';
export const JOIN_TOKEN_FILE = 'join-token';

/**
 * A secret kept in the data dir with mode 0600: read it if it is there,
 * otherwise make a random one. Used for the HTTP API token.
 */
export function loadOrCreateSecret(dataDir: string, name: string): string {
  const file = join(dataDir, name);
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length >= 16) return existing;
  } catch {
    // not there yet
  }
  return writeNewSecret(dataDir, name);
}

/** Replace the secret with a fresh random one (e.g. `rc-master rotate-token`). */
export function writeNewSecret(dataDir: string, name: string): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(24).toString('base64url');
  writeFileAtomic(join(dataDir, name), `${secret}\n`, 0o600);
  return secret;
}

/** Constant-time comparison, so a guesser learns nothing from response times. */
export function secretsEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}
