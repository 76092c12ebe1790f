import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './wait.js';

export interface Task {
  task_id: string;
  task_type: string;
  status: string;
  priority: string;
  device_id: string | null;
  attempts: number;
  retries: number;
  wait_reason: string | null;
  requirements: Record<string, unknown>;
  result: { output: string; exit_code: number | null; error: string | null; duration_s: number; truncated: boolean } | null;
  events?: Array<{ kind: string; attempt: number | null; device_id: string | null; detail: Record<string, unknown> }>;
}

export const FINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled']);

/** The master's HTTP API as a test uses it, with the API token from its data dir. */
export class Api {
  readonly token: string;

  constructor(readonly baseUrl: string, dataDir: string) {
    this.token = readFileSync(join(dataDir, 'api-token'), 'utf8').trim();
  }

  async request(method: string, path: string, body?: unknown, token: string | null = this.token, extraHeaders: Record<string, string> = {}): Promise<{ status: number; body: unknown; headers: Record<string, string> }> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    const res = await fetch(`${this.baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, body: text.length > 0 && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text, headers: Object.fromEntries(res.headers) };
  }

  async submit(task: Record<string, unknown>): Promise<Task> {
    const res = await this.request('POST', '/api/v1/tasks', task);
    if (res.status !== 201) throw new Error(`submit failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as Task;
  }

  async submitBatch(tasks: Array<Record<string, unknown>>): Promise<Task[]> {
    const res = await this.request('POST', '/api/v1/tasks', tasks);
    if (res.status !== 201) throw new Error(`batch submit failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as Task[];
  }

  async task(id: string): Promise<Task> {
    const res = await this.request('GET', `/api/v1/tasks/${id}`);
    if (res.status !== 200) throw new Error(`get ${id}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as Task;
  }

  async list(query: string): Promise<Task[]> {
    const res = await this.request('GET', `/api/v1/tasks?${query}`);
    if (res.status !== 200) throw new Error(`list: ${res.status} ${JSON.stringify(res.body)}`);
    return (res.body as { tasks: Task[] }).tasks;
  }

  /** Every task, paging through the list API. */
  async all(): Promise<Task[]> {
    const out: Task[] = [];
    let before = '';
    for (;;) {
      const res = await this.request('GET', `/api/v1/tasks?limit=1000${before ? `&before=${before}` : ''}`);
      const page = res.body as { tasks: Task[]; next_before: string | null };
      out.push(...page.tasks);
      if (!page.next_before) return out;
      before = page.next_before;
    }
  }

  waitForStatus(id: string, statuses: string | string[], timeoutMs = 20_000): Promise<Task> {
    const wanted = new Set(Array.isArray(statuses) ? statuses : [statuses]);
    let last: Task | null = null;
    return waitFor(async () => {
      last = await this.task(id);
      return wanted.has(last.status) ? last : null;
    }, timeoutMs, () => `task ${id} to be ${[...wanted].join('|')} (last: ${JSON.stringify(last)})`, 50);
  }
}
