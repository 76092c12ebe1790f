import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';
import { signRegister, type RegisterAuth } from '../protocol/auth.js';

const SECRET_FILE = 'device-secret';

/**
 * The worker's proof material (PROTOCOL §4.8): its own device secret once
 * enrolled (kept in the data dir, mode 0600), else the join token.
 */
export class WorkerCredentials {
  readonly #dataDir: string;
  readonly #joinToken: string | null;

  constructor(dataDir: string, joinToken: string | null) {
    this.#dataDir = dataDir;
    this.#joinToken = joinToken;
  }

  /** The `auth` for a register, or undefined when there is nothing to prove with (--insecure masters). */
  authFor(deviceId: string): RegisterAuth | undefined {
    const secret = this.deviceSecret();
    if (secret !== null) return signRegister('device-hmac-sha256', secret, deviceId);
    if (this.#joinToken !== null) return signRegister('join-hmac-sha256', this.#joinToken, deviceId);
    return undefined;
  }

  deviceSecret(): string | null {
    try {
      const secret = readFileSync(join(this.#dataDir, SECRET_FILE), 'utf8').trim();
      return secret.length > 0 ? secret : null;
    } catch {
      return null;
    }
  }

  /** Whole or not at all: a worker killed mid-write, or a reader at the wrong moment, never sees half a secret. */
  saveDeviceSecret(secret: string): void {
    mkdirSync(this.#dataDir, { recursive: true, mode: 0o700 });
    writeFileAtomic(join(this.#dataDir, SECRET_FILE), `${secret}\n`, 0o600);
  }
}
