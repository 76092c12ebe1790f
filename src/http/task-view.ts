import type { TaskRecord } from '../store/store.js';

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** The public shape of a task in the JSON API: the record with ISO times. */
export function toTaskView(t: TaskRecord): Record<string, unknown> {
  return {
    task_id: t.task_id,
    task_type: t.task_type,
    status: t.status,
    priority: t.priority,
    payload: t.payload,
    requirements: t.requirements,
    timeout_s: t.timeout_s,
    max_retries: t.max_retries,
    retries: t.retries,
    idempotency_key: t.idempotency_key,
    labels: t.labels,
    device_id: t.device_id,
    attempts: t.attempts,
    created_at: iso(t.created_at_ms),
    assigned_at: iso(t.assigned_at_ms),
    started_at: iso(t.started_at_ms),
    finished_at: iso(t.finished_at_ms),
    retry_not_before: iso(t.not_before_ms),
    wait_reason: t.wait_reason,
    result: t.result,
  };
}
