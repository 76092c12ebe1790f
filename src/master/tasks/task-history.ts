import type { TaskEventRow, TaskRecord } from '../../store/store.js';

export interface HistoryEntry {
  timestamp: string;
  kind: string;
  attempt: number | null;
  device_id: string | null;
  detail: Record<string, unknown>;
}

/**
 * The full history of a task. Only exceptional events are stored as rows
 * (retries, requeues, late results, cancels); the happy path comes from the
 * record's own timestamps, which saves three writes per task.
 */
export function synthesizeHistory(task: TaskRecord, events: readonly TaskEventRow[]): HistoryEntry[] {
  const entries: Array<HistoryEntry & { ts: number }> = events.map((e) => entry(e.ts_ms, e.kind, e.attempt, e.device_id, e.detail));
  entries.push(entry(task.created_at_ms, 'created', null, null, { priority: task.priority }));
  if (task.assigned_at_ms !== null) entries.push(entry(task.assigned_at_ms, 'assigned', task.attempts, task.device_id, {}));
  if (task.started_at_ms !== null) entries.push(entry(task.started_at_ms, 'started', task.attempts, task.device_id, {}));
  if (task.finished_at_ms !== null) {
    entries.push(entry(task.finished_at_ms, task.status, task.attempts, task.device_id, { exit_code: task.result?.exit_code ?? null }));
  }
  // Stable: equal times keep insertion order (stored events first, as they happened).
  return entries.sort((a, b) => a.ts - b.ts).map(({ ts: _ts, ...rest }) => rest);
}

function entry(ts: number, kind: string, attempt: number | null, deviceId: string | null, detail: Record<string, unknown>): HistoryEntry & { ts: number } {
  return { ts, timestamp: new Date(ts).toISOString(), kind, attempt, device_id: deviceId, detail };
}
