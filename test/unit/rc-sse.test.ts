import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CliExit } from '../../src/cli/http-client.js';
import { SseParser, type SseEvent } from '../../src/cli/rc-sse-parser.js';
import { followSse, type DisconnectInfo } from '../../src/cli/rc-sse.js';

describe('SseParser', () => {
  test('dispatches an event at the blank line, with its id and type', () => {
    const p = new SseParser();
    assert.deepEqual(p.push('id: 7\nevent: output\ndata: {"line":"hi"}\n'), []);
    assert.deepEqual(p.push('\n'), [{ id: '7', event: 'output', data: '{"line":"hi"}' }]);
  });

  test('joins data lines with LF and defaults the type to message', () => {
    assert.deepEqual(new SseParser().push('data: a\ndata: b\n\n'), [{ id: null, event: 'message', data: 'a\nb' }]);
  });

  test('handles CRLF, lone CR and a CRLF split across chunks', () => {
    const p = new SseParser();
    assert.deepEqual(p.push('data: one\r\n\r\ndata: two\r'), [{ id: null, event: 'message', data: 'one' }]);
    assert.deepEqual(p.push('\n\r\n'), [{ id: null, event: 'message', data: 'two' }]);
    assert.deepEqual(p.push('data: three\r\r'), [{ id: null, event: 'message', data: 'three' }]);
  });

  test('reassembles an event cut anywhere, one character at a time', () => {
    const p = new SseParser();
    const events: SseEvent[] = [];
    for (const ch of 'id: 12\nevent: task\ndata: {"status":"running"}\n\n') events.push(...p.push(ch));
    assert.deepEqual(events, [{ id: '12', event: 'task', data: '{"status":"running"}' }]);
  });

  test('ignores keep-alive comments, retry and unknown fields; an event with no data is not dispatched', () => {
    const p = new SseParser();
    assert.deepEqual(p.push(': keep-alive\n\nretry: 10\nfoo: bar\n\nevent: end\n\n'), []);
    assert.deepEqual(p.push('data\n\n'), [{ id: null, event: 'message', data: '' }], 'a bare "data" field is an empty data line');
  });

  test('the last event id carries over to later events and starts from the constructor value', () => {
    const p = new SseParser('41');
    assert.deepEqual(p.push('data: x\n\nid: 42\ndata: y\n\ndata: z\n\n'), [
      { id: '41', event: 'message', data: 'x' },
      { id: '42', event: 'message', data: 'y' },
      { id: '42', event: 'message', data: 'z' },
    ]);
  });
});

type Ending = 'close' | 'break' | 'hang';

/** A streamed response that sends `text` and then ends cleanly, breaks like a dead master, or stays open. */
function sse(text: string, ending: Ending, status = 200): Response {
  let isSent = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      // Error only on the second pull: erroring a stream drops chunks still queued in it.
      if (!isSent) {
        isSent = true;
        controller.enqueue(new TextEncoder().encode(text));
        return undefined;
      }
      if (ending === 'close') controller.close();
      if (ending === 'break') controller.error(new TypeError('terminated'));
      return ending === 'hang' ? new Promise<void>(() => undefined) : undefined;
    },
  });
  return new Response(body, { status, headers: { 'content-type': 'text/event-stream' } });
}

interface Script {
  steps: Array<() => Response>;
  lastIds: Array<string | null>;
}

function scripted(steps: Array<() => Response>): Script & { open(id: string | null): Promise<Response> } {
  const script = { steps, lastIds: [] as Array<string | null> };
  return {
    ...script,
    open: async (id) => {
      script.lastIds.push(id);
      const step = script.steps.shift();
      if (!step) throw new Error('the test ran out of scripted connections');
      return step();
    },
  };
}

const down = (): Response => {
  throw new CliExit(3, 'master unreachable at http://x: ECONNREFUSED');
};

describe('followSse', () => {
  test('reconnects across a dead master with Last-Event-ID and resets the backoff after each connection', async () => {
    const s = scripted([
      () => sse('id: 1\ndata: a\n\n', 'break'),
      down,
      down,
      () => sse('id: 2\nevent: gap\ndata: {}\n\n', 'close'),
      () => sse('id: 3\ndata: b\n\n', 'hang'),
    ]);
    const events: SseEvent[] = [];
    const disconnects: DisconnectInfo[] = [];
    let reconnects = 0;
    const outcome = await followSse({
      open: s.open,
      onEvent: (e) => events.push(e) > 0 && e.data === 'b',
      onDisconnect: (d) => disconnects.push(d),
      onReconnect: () => reconnects++,
      signal: new AbortController().signal,
      backoff: { baseMs: 2, maxMs: 8 },
      random: () => 0.999,
    });
    assert.equal(outcome, 'stopped');
    assert.deepEqual(events.map((e) => [e.id, e.event, e.data]), [['1', 'message', 'a'], ['2', 'gap', '{}'], ['3', 'message', 'b']]);
    assert.deepEqual(s.lastIds, [null, '1', '1', '1', '2']);
    // floor(0.999 × min(8, 2 × 2^attempt)): 1, 3, 7, then 1 again after the connection at step 4.
    assert.deepEqual(disconnects.map((d) => [d.attempt, d.delayMs]), [[1, 1], [2, 3], [3, 7], [1, 1]]);
    assert.match(disconnects[0]?.reason ?? '', /lost the connection to the master/);
    assert.match(disconnects[1]?.reason ?? '', /unreachable/);
    assert.match(disconnects[3]?.reason ?? '', /closed the stream/);
    assert.equal(reconnects, 2, 'reconnected at step 4 and step 5');
  });

  test('an unreachable master on the very first connection is exit 3, not a retry', async () => {
    const s = scripted([down]);
    await assert.rejects(
      followSse({ open: s.open, onEvent: () => false, onDisconnect: () => assert.fail('no retry'), onReconnect: () => undefined, signal: new AbortController().signal }),
      (err: unknown) => err instanceof CliExit && err.exitCode === 3,
    );
  });

  test('a 4xx ends following with its error; a 5xx is retried', async () => {
    const notFound = scripted([() => sse('{"code":"RC_ERR_NOT_FOUND","message":"no task with id x"}', 'close', 404)]);
    await assert.rejects(
      followSse({ open: notFound.open, onEvent: () => false, onDisconnect: () => assert.fail('no retry'), onReconnect: () => undefined, signal: new AbortController().signal }),
      (err: unknown) => err instanceof CliExit && err.exitCode === 1 && /404.*no task/.test(err.message),
    );
    const busy = scripted([() => sse('', 'close', 503), () => sse('data: ok\n\n', 'hang')]);
    const disconnects: DisconnectInfo[] = [];
    const outcome = await followSse({
      open: busy.open,
      onEvent: (e) => e.data === 'ok',
      onDisconnect: (d) => disconnects.push(d),
      onReconnect: () => undefined,
      signal: new AbortController().signal,
      random: () => 0,
    });
    assert.equal(outcome, 'stopped');
    assert.match(disconnects[0]?.reason ?? '', /503/);
  });

  test('a connection that goes silent past the idle limit is replaced', async () => {
    const s = scripted([() => sse(': keep-alive\n\n', 'hang'), () => sse('data: fresh\n\n', 'hang')]);
    const reasons: string[] = [];
    const outcome = await followSse({
      open: s.open,
      onEvent: (e) => e.data === 'fresh',
      onDisconnect: (d) => reasons.push(d.reason),
      onReconnect: () => undefined,
      signal: new AbortController().signal,
      idleMs: 30,
      random: () => 0,
    });
    assert.equal(outcome, 'stopped');
    assert.deepEqual(reasons, ['the stream went silent']);
  });

  test('aborting stops a follow that is streaming or backing off', async () => {
    const streaming = new AbortController();
    const s = scripted([() => sse('data: first\n\n', 'hang')]);
    const outcome = await followSse({
      open: s.open,
      onEvent: () => (streaming.abort(), false),
      onDisconnect: () => assert.fail('no reconnect after abort'),
      onReconnect: () => undefined,
      signal: streaming.signal,
    });
    assert.equal(outcome, 'aborted');

    const backingOff = new AbortController();
    const b = scripted([() => sse('data: x\n\n', 'break')]);
    const result = await followSse({
      open: b.open,
      onEvent: () => false,
      onDisconnect: () => backingOff.abort(),
      onReconnect: () => undefined,
      signal: backingOff.signal,
      backoff: { baseMs: 60_000, maxMs: 60_000 },
      random: () => 0.999,
    });
    assert.equal(result, 'aborted');
  });
});
