import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RcError } from '../../common/errors.js';
import type { TaskService } from '../../master/tasks/task-service.js';
import { TASK_STATUSES, type TaskListFilter, type TaskRecord, type TaskStatus } from '../../store/store.js';
import { CONTENT_TYPES, negotiateFormat, renderTable, type Column } from '../render/table.js';
import { toTaskView } from '../task-view.js';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1000;
const MAX_BATCH = 10_000;

interface ListQuery {
  status?: string;
  device_id?: string;
  task_type?: string;
  limit?: string;
  before?: string;
  format?: string;
}

export interface TaskRouteDeps {
  tasks: TaskService;
  /** preHandler that enforces the API token on writes. */
  requireWrite: (req: FastifyRequest) => Promise<void>;
}

/** Submit, read, list and cancel tasks (JSON API) and /text/tasks. */
export function registerTaskRoutes(app: FastifyInstance, deps: TaskRouteDeps): void {
  const { tasks } = deps;
  app.post('/api/v1/tasks', { preHandler: deps.requireWrite }, async (req, reply) => {
    const body = req.body;
    // RFC 7240: a client that only needs the ids (rc batch, a bulk loader) asks for less to parse and send.
    const minimal = wantsMinimal(req.headers.prefer);
    const view = minimal ? minimalTaskView : toTaskView;
    if (Array.isArray(body) && (body.length === 0 || body.length > MAX_BATCH)) throw badRequest(`a batch holds 1 to ${MAX_BATCH} tasks`);
    const created = tasks.submit(Array.isArray(body) ? body : [body]).map(view);
    // Only on the answer it shaped: an error is the same whatever was preferred.
    if (minimal) reply.header('preference-applied', 'return=minimal');
    return reply.status(201).send(Array.isArray(body) ? created : created[0]);
  });
  app.get<{ Params: { id: string } }>('/api/v1/tasks/:id', async (req) => {
    const task = findTask(tasks, req.params.id);
    return { ...toTaskView(task), events: tasks.history(task) };
  });
  app.get<{ Querystring: ListQuery }>('/api/v1/tasks', async (req) => {
    const filter = parseListQuery(req.query);
    const list = tasks.list(filter);
    const last = list.at(-1);
    return { tasks: list.map(toTaskView), count: list.length, next_before: list.length === filter.limit && last ? last.task_id : null };
  });
  app.post<{ Params: { id: string } }>('/api/v1/tasks/:id/cancel', { preHandler: deps.requireWrite }, async (req) => toTaskView(tasks.cancel(req.params.id)));
  app.get<{ Querystring: ListQuery }>('/text/tasks', async (req, reply) => {
    const format = negotiateFormat(req.query.format, req.headers.accept);
    if (format === null) throw badRequest('format must be one of text, json, csv, tsv');
    const rows = tasks.list(parseListQuery(req.query));
    return reply.type(CONTENT_TYPES[format]).send(renderTable(TASK_COLUMNS, rows, format));
  });
}

/** `Prefer: return=minimal` (RFC 7240; several preferences may share the header, comma-separated). */
function wantsMinimal(prefer: string | string[] | undefined): boolean {
  const values = Array.isArray(prefer) ? prefer : prefer === undefined ? [] : [prefer];
  return values.some((v) => v.split(',').some((p) => p.split(';')[0]!.trim().toLowerCase() === 'return=minimal'));
}

/** What a submit answers under `Prefer: return=minimal`: the id and the status as created. */
function minimalTaskView(task: TaskRecord): { task_id: string; status: string } {
  return { task_id: task.task_id, status: task.status };
}

function findTask(tasks: TaskService, id: string): TaskRecord {
  const task = tasks.get(id);
  if (!task) throw new RcError('RC_ERR_NOT_FOUND', `no task with id ${id}`, { status: 404 });
  return task;
}

export function parseListQuery(q: ListQuery): TaskListFilter {
  const limit = q.limit === undefined ? DEFAULT_LIMIT : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw badRequest(`limit must be an integer from 1 to ${MAX_LIMIT}`);
  const statuses = q.status === undefined ? undefined : q.status.split(',').map((s) => s.trim());
  const unknown = statuses?.filter((s) => !(TASK_STATUSES as readonly string[]).includes(s)) ?? [];
  if (unknown.length > 0) throw badRequest(`unknown status ${unknown.join(', ')}; use ${TASK_STATUSES.join(', ')}`);
  return {
    limit,
    ...(statuses ? { statuses: statuses as TaskStatus[] } : {}),
    ...(q.device_id ? { device_id: q.device_id } : {}),
    ...(q.task_type ? { task_type: q.task_type } : {}),
    ...(q.before ? { before: q.before } : {}),
  };
}

function badRequest(message: string): RcError {
  return new RcError('RC_ERR_HTTP_BAD_REQUEST', message, { status: 400 });
}

const TASK_COLUMNS: readonly Column<TaskRecord>[] = [
  { header: 'TASK', key: 'task_id', value: (t) => t.task_id },
  { header: 'TYPE', key: 'task_type', value: (t) => t.task_type },
  { header: 'PRIORITY', key: 'priority', value: (t) => t.priority },
  { header: 'STATUS', key: 'status', value: (t) => t.status },
  { header: 'DEVICE', key: 'device_id', value: (t) => t.device_id },
  { header: 'ATTEMPT', key: 'attempts', value: (t) => t.attempts, alignRight: true },
  { header: 'EXIT', key: 'exit_code', value: (t) => t.result?.exit_code ?? null, alignRight: true },
  { header: 'DURATION_S', key: 'duration_s', value: (t) => t.result?.duration_s ?? null, alignRight: true },
  { header: 'CREATED', key: 'created_at', value: (t) => new Date(t.created_at_ms).toISOString() },
  { header: 'NOTE', key: 'note', value: (t) => t.wait_reason ?? t.result?.error ?? null },
];
