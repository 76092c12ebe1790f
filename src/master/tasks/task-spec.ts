import { RcError, type ErrorCode } from '../../common/errors.js';
import { uuidv7 } from '../../common/uuidv7.js';
import { formatViolations, schemaFileValidator } from '../../protocol/schemas.js';
import { validatePayload } from '../../protocol/task-payloads.js';
import { validateRequirements } from '../../scheduler/requirements.js';
import type { Priority, TaskRecord, TaskRequirements } from '../../store/store.js';

export const DEFAULT_TIMEOUT_S = 300;
export const DEFAULT_MAX_RETRIES = 3;

const validateSubmitBody = schemaFileValidator('http/task_submit.schema.json');

/** A submit body that passed its schema. */
export interface TaskSpec {
  task_type: string;
  payload?: Record<string, unknown>;
  priority?: Priority;
  requirements?: Record<string, unknown>;
  timeout_s?: number;
  max_retries?: number;
  idempotency_key?: string;
  labels?: Record<string, string>;
}

export type ParsedTaskSpec = Omit<TaskSpec, 'requirements'> & { requirements: TaskRequirements };

/**
 * Check one submitted task completely, so that nothing is accepted and then
 * left to rot: the body's schema, a task type someone offers, the payload's
 * shape for that type, and the requirement keys. Throws RcError (400).
 */
export function parseTaskSpec(body: unknown, knownTypes: ReadonlySet<string>, where = ''): ParsedTaskSpec {
  const violations = validateSubmitBody(body);
  if (violations.length > 0) {
    throw invalid('RC_ERR_TASK_INVALID', `${where}task is invalid: ${formatViolations(violations)}`, violations);
  }
  const spec = body as TaskSpec;
  if (!knownTypes.has(spec.task_type)) {
    const known = [...knownTypes].sort().join(', ');
    throw invalid('RC_ERR_TASK_UNKNOWN_TYPE', `${where}unknown task_type "${spec.task_type}"; known types: ${known}`);
  }
  const payload = validatePayload(spec.task_type, spec.payload ?? {});
  if (payload.violations.length > 0) {
    const text = formatViolations(payload.violations);
    throw invalid('RC_ERR_TASK_PAYLOAD', `${where}payload does not fit task type ${spec.task_type}: ${text}`, payload.violations);
  }
  const { requirements, problems } = validateRequirements(spec.requirements ?? {});
  if (problems.length > 0) throw invalid('RC_ERR_TASK_REQUIREMENTS', `${where}requirements: ${problems.join('; ')}`, problems);
  return { ...spec, requirements };
}

export function newTaskRecord(spec: ParsedTaskSpec, nowMs: number): TaskRecord {
  return {
    task_id: uuidv7(nowMs),
    task_type: spec.task_type,
    payload: spec.payload ?? {},
    priority: spec.priority ?? 'normal',
    requirements: spec.requirements,
    timeout_s: spec.timeout_s ?? DEFAULT_TIMEOUT_S,
    max_retries: spec.max_retries ?? DEFAULT_MAX_RETRIES,
    idempotency_key: spec.idempotency_key ?? null,
    labels: spec.labels ?? {},
    status: 'queued',
    device_id: null,
    attempts: 0,
    retries: 0,
    created_at_ms: nowMs,
    assigned_at_ms: null,
    started_at_ms: null,
    finished_at_ms: null,
    not_before_ms: null,
    wait_reason: null,
    result: null,
  };
}

function invalid(code: ErrorCode, message: string, details?: unknown): RcError {
  return new RcError(code, message, { status: 400, details });
}
