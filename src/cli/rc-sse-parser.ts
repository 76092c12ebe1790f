/** One dispatched server-sent event. */
export interface SseEvent {
  /** The last event id in force when this event was dispatched (HTML §9.2.6), or null. */
  id: string | null;
  /** `message` when the event named none. */
  event: string;
  data: string;
}

/**
 * The text/event-stream wire format (HTML Living Standard §9.2.6) as a pure
 * class: feed it decoded text in chunks of any size, get whole events back.
 * Comments (`: keep-alive`) and `retry:` are consumed and ignored; reconnect
 * timing is the caller's backoff, not the server's.
 */
export class SseParser {
  #buffer = '';
  #data: string[] = [];
  #event = '';
  #lastEventId: string | null;
  /** The previous chunk ended in CR: a LF that starts the next one belongs to it. */
  #isAfterCr = false;

  constructor(lastEventId: string | null = null) {
    this.#lastEventId = lastEventId;
  }

  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (this.#isAfterCr && text.startsWith('\n')) text = text.slice(1);
    this.#isAfterCr = false;
    this.#buffer += text;
    const events: SseEvent[] = [];
    // §9.2.6: lines end in CRLF, LF or CR.
    const eol = /\r\n|\r|\n/g;
    let start = 0;
    for (let m = eol.exec(this.#buffer); m !== null; m = eol.exec(this.#buffer)) {
      if (m[0] === '\r' && m.index === this.#buffer.length - 1) this.#isAfterCr = true;
      const event = this.#line(this.#buffer.slice(start, m.index));
      if (event) events.push(event);
      start = m.index + m[0].length;
    }
    this.#buffer = this.#buffer.slice(start);
    return events;
  }

  #line(line: string): SseEvent | null {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
    else if (field === 'id' && !value.includes('\0')) this.#lastEventId = value;
    return null;
  }

  #dispatch(): SseEvent | null {
    const event = this.#data.length === 0 ? null : { id: this.#lastEventId, event: this.#event || 'message', data: this.#data.join('\n') };
    this.#data = [];
    this.#event = '';
    return event;
  }
}
