import type Database from 'better-sqlite3';

export interface HeartbeatDbRow {
  device_id: string;
  ts_ms: number;
  metrics: string;
}

/** A heartbeat to store: metrics already serialised. */
export interface HeartbeatInsert {
  device_id: string;
  ts_ms: number;
  metrics: string;
}

/** A device's newest heartbeat row. */
export interface ChainLink {
  id: number;
  ts_ms: number;
}

/**
 * The heartbeats table as an append-only log with one chain per device
 * (migration 6): each row's prev_id is the same device's previous row in
 * (ts_ms, id) order, and `heads` holds each device's newest row. Appends never touch a per-device
 * index page, and a device's recent history is a walk of `limit` primary-key
 * lookups from its head.
 *
 * Heads live in memory. devices.last_heartbeat_id is written with the
 * periodic device touch; at startup the rows after the newest stored head
 * (at most one touch period of them) complete the picture.
 */
export class HeartbeatLog {
  readonly #heads = new Map<string, ChainLink>();
  readonly #insert: Database.Statement<[string, number, string, number | null, string]>;
  readonly #link: Database.Statement<[number], { ts_ms: number; prev_id: number | null }>;
  readonly #relink: Database.Statement<[number, number]>;
  readonly #recent: Database.Statement<[{ head: number; device: string; limit: number }], HeartbeatDbRow>;

  constructor(db: Database.Database) {
    // A row for a device deleted meanwhile is skipped, not an FK error that fails the batch.
    this.#insert = db.prepare(`INSERT INTO heartbeats (device_id, ts_ms, metrics, prev_id)
      SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM devices WHERE device_id = ?)`);
    // The device_id check stops a walk that would leave this device's chain
    // (a head or prev_id whose row was pruned and its rowid reused).
    this.#recent = db.prepare(`
      WITH RECURSIVE chain (id, n) AS (
        SELECT @head, 1
        UNION ALL
        SELECT h.prev_id, chain.n + 1 FROM chain JOIN heartbeats h ON h.id = chain.id
        WHERE h.device_id = @device AND h.prev_id IS NOT NULL AND chain.n < @limit
      )
      SELECT h.device_id, h.ts_ms, h.metrics FROM chain JOIN heartbeats h ON h.id = chain.id
      WHERE h.device_id = @device
      ORDER BY h.ts_ms DESC, h.id DESC`);
    this.#link = db.prepare('SELECT ts_ms, prev_id FROM heartbeats WHERE id = ?');
    this.#relink = db.prepare('UPDATE heartbeats SET prev_id = ? WHERE id = ?');
    this.#loadHeads(db);
  }

  /** The newest stored row id of a device, or null. */
  head(deviceId: string): number | null {
    return this.#heads.get(deviceId)?.id ?? null;
  }

  /**
   * Insert rows (inside the caller's transaction). Returns the new heads,
   * which the caller passes to `commitHeads` only once the transaction has
   * committed: a rolled-back rowid may be handed out again, to another device.
   */
  insert(rows: readonly HeartbeatInsert[], skipped: string[]): Map<string, ChainLink> {
    const heads = new Map<string, ChainLink>();
    for (const r of rows) {
      const head = heads.get(r.device_id) ?? this.#heads.get(r.device_id) ?? null;
      const place = head === null || r.ts_ms >= head.ts_ms ? { prev: head?.id ?? null, successor: null } : this.#placeLate(head, r.ts_ms);
      const info = this.#insert.run(r.device_id, r.ts_ms, r.metrics, place.prev, r.device_id);
      if (info.changes === 0) {
        skipped.push(r.device_id);
        continue;
      }
      const id = Number(info.lastInsertRowid);
      if (place.successor === null) heads.set(r.device_id, { id, ts_ms: r.ts_ms });
      else this.#relink.run(id, place.successor);
    }
    return heads;
  }

  commitHeads(heads: ReadonlyMap<string, ChainLink>): void {
    for (const [deviceId, link] of heads) this.#heads.set(deviceId, link);
  }

  recent(deviceId: string, limit: number): HeartbeatDbRow[] {
    const head = this.#heads.get(deviceId)?.id;
    return head === undefined || limit < 1 ? [] : this.#recent.all({ head, device: deviceId, limit });
  }

  /**
   * A row older than the device's newest (the master's clock went back) goes
   * where its ts_ms belongs, between `prev` and `successor`, so the chain
   * stays in (ts_ms, id) order and pruning the oldest rows only ever cuts its
   * tail. Rare, so walking the chain here is fine.
   */
  #placeLate(head: ChainLink, tsMs: number): { prev: number | null; successor: number } {
    let successor = head.id;
    let prev = this.#link.get(successor)?.prev_id ?? null;
    while (prev !== null) {
      const link = this.#link.get(prev);
      if (link === undefined || link.ts_ms <= tsMs) break;
      successor = prev;
      prev = link.prev_id;
    }
    return { prev, successor };
  }

  #loadHeads(db: Database.Database): void {
    const stored = db.prepare<[], { device_id: string; id: number; ts_ms: number }>(
      'SELECT d.device_id, h.id, h.ts_ms FROM devices d JOIN heartbeats h ON h.id = d.last_heartbeat_id',
    ).all();
    let newest = 0;
    for (const { device_id, id, ts_ms } of stored) {
      this.#heads.set(device_id, { id, ts_ms });
      newest = Math.max(newest, id);
    }
    // Rows written after the last device touch: each was chained when stored, so the head is the newest by (ts_ms, id).
    const later = db.prepare<[number], { device_id: string; id: number; ts_ms: number }>('SELECT device_id, id, ts_ms FROM heartbeats WHERE id > ? ORDER BY id').iterate(newest);
    for (const { device_id, id, ts_ms } of later) {
      const head = this.#heads.get(device_id);
      if (head === undefined || ts_ms >= head.ts_ms) this.#heads.set(device_id, { id, ts_ms });
    }
  }
}
