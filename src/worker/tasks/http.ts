import { builtinPayloadSchema } from '../../protocol/task-payloads.js';
import type { OutputSink, TaskTypeDefinition } from './types.js';

interface HttpPayload {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * Reading stops after this many body bytes. It is the largest output cap a
 * worker accepts (config `output_cap_bytes`), so the kept output is complete
 * or already marked truncated; a phone never downloads a huge body for nothing.
 */
export const MAX_HTTP_BODY_BYTES = 64 * 1024 * 1024;

/** The payload schema checks the scheme already; this guards a run whose payload skipped validation. */
export function checkHttpUrl(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `invalid URL: ${url}`;
  }
  return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? null : `only http:// and https:// URLs are allowed, not ${parsed.protocol}`;
}

/** `http {url, method?, headers?, body?}`: one request; the output is `HTTP <status>` and the body. */
export const httpTask: TaskTypeDefinition = {
  name: 'http',
  payloadSchema: builtinPayloadSchema('http'),
  async run(ctx) {
    const payload = ctx.payload as unknown as HttpPayload;
    const refused = checkHttpUrl(payload.url);
    if (refused !== null) return { exit_code: null, error: refused };
    try {
      const res = await fetch(payload.url, {
        // Like curl -d: a body without a method means POST.
        method: payload.method ?? (payload.body === undefined ? 'GET' : 'POST'),
        headers: payload.headers,
        body: payload.body,
        signal: ctx.signal,
      });
      ctx.output.write('stdout', `HTTP ${res.status}\n`);
      await copyBody(res, ctx.output);
      return res.status >= 200 && res.status < 400 ? { exit_code: 0, error: null } : { exit_code: 1, error: `HTTP ${res.status}` };
    } catch (err) {
      return { exit_code: null, error: describeFetchError(err) };
    }
  },
};

async function copyBody(res: Response, output: OutputSink): Promise<void> {
  if (res.body === null) return;
  const decoder = new TextDecoder();
  let bytes = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      output.write('stdout', decoder.decode(value, { stream: true }));
      bytes += value.byteLength;
      if (bytes > MAX_HTTP_BODY_BYTES) break;
    }
    output.write('stdout', decoder.decode());
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** `fetch failed` alone says nothing; the cause (ECONNREFUSED, ENOTFOUND, a TLS error) does. */
function describeFetchError(err: unknown): string {
  const error = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (error.name === 'AbortError') return 'aborted';
  const cause = error.cause?.code ?? error.cause?.message;
  return cause ? `${error.message ?? 'fetch failed'}: ${cause}` : (error.message ?? String(err));
}
