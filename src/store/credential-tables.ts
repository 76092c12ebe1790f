import type Database from 'better-sqlite3';
import type { DeviceCredential } from './store.js';

interface CredentialRow {
  secret: string;
  revoked_at_ms: number | null;
}

/** SQL for per-device secrets (migration 5). */
export class CredentialTables {
  readonly #get: Database.Statement<[string], CredentialRow>;
  readonly #set: Database.Statement<[string, string, number]>;
  readonly #revoke: Database.Statement<[string, number, number]>;

  constructor(db: Database.Database) {
    this.#get = db.prepare('SELECT secret, revoked_at_ms FROM device_credentials WHERE device_id = ?');
    // A revoked device keeps its row: enrolling the same id again must stay impossible.
    this.#set = db.prepare(`INSERT INTO device_credentials (device_id, secret, created_at_ms) VALUES (?, ?, ?)
      ON CONFLICT (device_id) DO UPDATE SET secret = excluded.secret WHERE revoked_at_ms IS NULL`);
    this.#revoke = db.prepare(`INSERT INTO device_credentials (device_id, secret, created_at_ms, revoked_at_ms)
      VALUES (?, '', ?, ?) ON CONFLICT (device_id) DO UPDATE SET revoked_at_ms = excluded.revoked_at_ms`);
  }

  get(deviceId: string): DeviceCredential | null {
    const row = this.#get.get(deviceId);
    return row === undefined ? null : { secret: row.secret, revoked: row.revoked_at_ms !== null };
  }

  set(deviceId: string, secret: string, nowMs: number): void {
    this.#set.run(deviceId, secret, nowMs);
  }

  revoke(deviceId: string, nowMs: number): void {
    this.#revoke.run(deviceId, nowMs, nowMs);
  }
}
