import { connect, type Socket } from 'node:net';
import { waitFor } from './wait.js';

/** One event as a test sees it. `id` is this event's own `id:` field (null when it had none). */
export interface ReceivedEvent {
  id: string | null;
  event: string;
  data: string;
  /** When the client parsed it (Date.now()). */
  atMs: number;
}

/**
 * A text/event-stream parser written from the HTML spec (§9.2.6), kept apart
 * from the server's formatter so that one checks the other.
 */
export class SseTestParser {
  retry: number | null = null;
  comments = 0;
  #buffer = '';
  #data: string[] = [];
  #event = '';
  #id: string | null = null;

  push(text: string): ReceivedEvent[] {
    this.#buffer += text;
    const out: ReceivedEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.#buffer);
      // A lone CR at the end may be the first half of CRLF: wait for more.
      if (m === null || (m[0] === '\r' && m.index === this.#buffer.length - 1)) break;
      const line = this.#buffer.slice(0, m.index);
      this.#buffer = this.#buffer.slice(m.index + m[0].length);
      const ev = this.#line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  #line(line: string): ReceivedEvent | null {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) {
      this.comments += 1;
      return null;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
    return null;
  }

  #dispatch(): ReceivedEvent | null {
    const ev = this.#data.length === 0 ? null : { id: this.#id, event: this.#event || 'message', data: this.#data.join('\n'), atMs: Date.now() };
    this.#data = [];
    this.#event = '';
    this.#id = null;
    return ev;
  }
}

/** Common waiting on a growing list of events. */
abstract class EventLog {
  readonly events: ReceivedEvent[] = [];
  readonly parser = new SseTestParser();
  isEnded = false;

  /** Wait until `probe(events)` gives a value. */
  waitUntil<T>(probe: (events: ReceivedEvent[]) => T | null | undefined | false, timeoutMs: number, what: string): Promise<T> {
    return waitFor(() => probe(this.events), timeoutMs, () => `${what} (have ${this.events.length} events: ${summary(this.events)})`, 10);
  }

  waitForEvent(name: string, timeoutMs: number, match: (ev: ReceivedEvent) => boolean = () => true): Promise<ReceivedEvent> {
    return this.waitUntil((evs) => evs.find((e) => e.event === name && match(e)), timeoutMs, `an '${name}' event`);
  }

  waitEnded(timeoutMs: number): Promise<true> {
    return waitFor(() => this.isEnded, timeoutMs, () => `the stream to end (have ${this.events.length} events: ${summary(this.events)})`, 10);
  }

  protected take(text: string): void {
    this.events.push(...this.parser.push(text));
  }
}

/** An SSE stream read with fetch, the way a program would. */
export class SseReader extends EventLog {
  readonly #controller = new AbortController();
  status = 0;
  contentType: string | null = null;
  headers: Headers | null = null;

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const reader = new SseReader();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: reader.#controller.signal });
    reader.status = res.status;
    reader.headers = res.headers;
    reader.contentType = res.headers.get('content-type');
    if (res.status !== 200 || !res.body) {
      reader.isEnded = true;
      throw new Error(`SSE ${url}: status ${res.status}: ${await res.text()}`);
    }
    void reader.#pump(res.body);
    return reader;
  }

  /** Disconnect (as a client whose network dropped would). */
  abort(): void {
    this.#controller.abort();
  }

  async #pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of body) this.take(decoder.decode(chunk, { stream: true }));
    } catch {
      // aborted or reset: the test looks at what arrived
    } finally {
      this.isEnded = true;
    }
  }
}

/**
 * A client that connects and then reads nothing: a phone on a dead Wi-Fi, a
 * stuck `curl | less`. Raw HTTP/1.0 so the body is plain bytes (no chunking);
 * `resume()` starts reading everything that waited.
 */
export class StuckSseClient extends EventLog {
  readonly #socket: Socket;
  #head = '';
  #isPastHead = false;

  private constructor(socket: Socket) {
    super();
    this.#socket = socket;
    socket.on('error', () => undefined);
    socket.on('close', () => (this.isEnded = true));
  }

  static open(port: number, path: string): Promise<StuckSseClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.off('error', reject);
        socket.write(`GET ${path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
        resolve(new StuckSseClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Start reading (and keep reading until the server closes). */
  resume(): void {
    this.#socket.setEncoding('utf8');
    this.#socket.on('data', (text: string) => this.#onText(text));
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #onText(text: string): void {
    if (this.#isPastHead) return this.take(text);
    this.#head += text;
    const end = this.#head.indexOf('\r\n\r\n');
    if (end === -1) return;
    this.#isPastHead = true;
    this.take(this.#head.slice(end + 4));
  }
}

export function json<T = Record<string, unknown>>(ev: ReceivedEvent): T {
  return JSON.parse(ev.data) as T;
}

function summary(events: ReceivedEvent[]): string {
  return events.slice(-5).map((e) => `${e.id ?? '-'}:${e.event}`).join(', ');
}
