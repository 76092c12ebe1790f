import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from './run-main.js';

export const DEFAULT_MASTER = 'http://127.0.0.1:5000';

/** Ends the CLI with a code; caught by the command wrapper, which prints and exits. */
export class CliExit extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
  }
}

export interface ClientOptions {
  master?: string;
  dataDir?: string;
}

export interface ApiResponse {
  status: number;
  body: unknown;
  text: string;
}

/** HTTP to the master, as every `rc` command uses it. */
export class MasterClient {
  readonly base: string;
  readonly #dataDir: string;

  constructor(opts: ClientOptions) {
    this.base = (opts.master ?? process.env['RC_MASTER'] ?? DEFAULT_MASTER).replace(/\/+$/, '');
    this.#dataDir = opts.dataDir ?? process.env['RC_DATA_DIR'] ?? './data';
  }

  async get(path: string, accept = 'application/json'): Promise<ApiResponse> {
    return this.#request('GET', path, undefined, { accept });
  }

  /** Writes carry the API token: RC_API_TOKEN, or the master's data dir when run on its machine. */
  async post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
    return this.#request('POST', path, body, { ...headers, authorization: `Bearer ${this.#apiToken()}` });
  }

  /**
   * Open a server-sent event stream. The response is returned whatever its
   * status; a network failure is `CliExit` with the unreachable code.
   */
  async openStream(path: string, lastEventId: string | null, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (lastEventId !== null) headers['last-event-id'] = lastEventId;
    try {
      return await fetch(`${this.base}${path}`, { headers, signal });
    } catch (err) {
      throw this.#unreachable(err);
    }
  }

  async #request(method: string, path: string, body: unknown, headers: Record<string, string>): Promise<ApiResponse> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw this.#unreachable(err);
    }
    const text = await res.text();
    return { status: res.status, text, body: parseJson(text) };
  }

  #unreachable(err: unknown): CliExit {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return new CliExit(EXIT.unreachable, `master unreachable at ${this.base}: ${cause?.code ?? cause?.message ?? String(err)}`);
  }

  #apiToken(): string {
    const fromEnv = process.env['RC_API_TOKEN'];
    if (fromEnv) return fromEnv;
    const file = join(this.#dataDir, 'api-token');
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      throw new CliExit(EXIT.usage, `no API token: set RC_API_TOKEN, or run on the master with --data-dir pointing at its data dir (looked for ${file})`);
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** A non-2xx answer becomes one clear line and exit code 1 (2 for our own bad request). */
export function expectOk(res: ApiResponse): unknown {
  if (res.status >= 200 && res.status < 300) return res.body;
  const body = res.body as { code?: string; message?: string } | null;
  const detail = body?.message ? `${body.code ?? ''} ${body.message}`.trim() : res.text.trim();
  throw new CliExit(res.status === 400 ? EXIT.usage : EXIT.failed, `${res.status}: ${detail}`);
}
