import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { formatEvent } from '../../src/http/sse/format.js';
import { SseConnection, type CloseReason, type SseConnectionOptions } from '../../src/http/sse/sse-connection.js';
import { FakeSink } from '../helpers/fake-sse-sink.js';

const OPTS: SseConnectionOptions = { maxQueueBytes: 1024 * 1024, maxQueueEvents: 3, keepAliveMs: 15_000, lingerMs: 5_000, retryMs: 2_000 };

function openConnection(opts: Partial<SseConnectionOptions> = {}): { sink: FakeSink; conn: SseConnection; closes: CloseReason[] } {
  const sink = new FakeSink();
  const closes: CloseReason[] = [];
  const conn = new SseConnection(sink, { ...OPTS, ...opts }, (reason) => closes.push(reason));
  conn.open();
  return { sink, conn, closes };
}

function send(conn: SseConnection, id: number, data: unknown = { n: id }): void {
  conn.send(id, formatEvent(id, 'task', data));
}

function mockTimers(t: TestContext): void {
  t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
}

describe('SseConnection', () => {
  test('sends retry first, then events as they come', (t) => {
    mockTimers(t);
    const { sink, conn } = openConnection();
    assert.equal(sink.chunks[0], 'retry: 2000\n\n');
    send(conn, 1);
    send(conn, 2);
    assert.deepEqual(sink.events().map((e) => e.id), ['1', '2']);
    assert.equal(conn.lastWrittenId, 2);
  });

  test('queues while the socket is full and writes the queue in order on drain', (t) => {
    mockTimers(t);
    const { sink, conn, closes } = openConnection();
    sink.isFull = true;
    send(conn, 1); // accepted by the socket, which now says "full"
    send(conn, 2);
    send(conn, 3);
    assert.deepEqual(sink.events().map((e) => e.id), ['1'], 'nothing written past a full socket');
    assert.equal(conn.queuedEvents, 2);
    sink.drain();
    send(conn, 4);
    assert.deepEqual(sink.events().map((e) => e.id), ['1', '2', '3', '4']);
    assert.equal(conn.queuedEvents, 0);
    assert.deepEqual(closes, []);
  });

  test('drops a client whose queue overflows in events: notice with the last written id, end, cut off later', (t) => {
    mockTimers(t);
    const { sink, conn, closes } = openConnection({ maxQueueEvents: 3 });
    send(conn, 1);
    sink.isFull = true;
    send(conn, 2); // written; the socket is full from here
    for (const id of [3, 4, 5]) send(conn, id);
    assert.deepEqual(closes, [], 'three queued events fit');
    send(conn, 6);
    assert.deepEqual(closes, ['dropped']);
    assert.equal(conn.isClosed, true);
    assert.equal(sink.isEnded, true);
    const events = sink.events();
    const last = events.at(-1)!;
    assert.equal(last.event, 'dropped');
    assert.equal(last.id, '2', 'a reconnect resumes right after what reached the socket');
    assert.equal(JSON.parse(last.data).last_event_id, 2);
    assert.deepEqual(events.map((e) => e.id), ['1', '2', '2'], 'queued events are not written');
    send(conn, 7);
    assert.equal(sink.events().length, 3, 'nothing after the drop');
    assert.equal(sink.isDestroyed, false);
    t.mock.timers.tick(OPTS.lingerMs);
    assert.equal(sink.isDestroyed, true, 'a client that never reads is cut off');
    assert.deepEqual(closes, ['dropped'], 'onClose runs once');
  });

  test('drops a client whose queue overflows in bytes', (t) => {
    mockTimers(t);
    const { sink, conn, closes } = openConnection({ maxQueueBytes: 1000, maxQueueEvents: 1000 });
    sink.isFull = true;
    send(conn, 1);
    send(conn, 2, { pad: 'x'.repeat(600) });
    assert.deepEqual(closes, []);
    send(conn, 3, { pad: 'y'.repeat(600) });
    assert.deepEqual(closes, ['dropped']);
    assert.equal(sink.events().at(-1)?.event, 'dropped');
  });

  test('writes a keep-alive comment every interval, but not into a full socket, and stops when closed', (t) => {
    mockTimers(t);
    const { sink, conn } = openConnection({ keepAliveMs: 1000 });
    const keepAlives = (): number => sink.chunks.filter((c) => c === ': keep-alive\n\n').length;
    t.mock.timers.tick(1000);
    assert.equal(keepAlives(), 1);
    t.mock.timers.tick(2000);
    assert.equal(keepAlives(), 3);
    sink.isFull = true;
    send(conn, 1);
    t.mock.timers.tick(3000);
    assert.equal(keepAlives(), 3, 'no keep-alive into a full socket');
    sink.drain();
    conn.close();
    t.mock.timers.tick(5000);
    assert.equal(keepAlives(), 3, 'none after close');
  });

  test('a client that goes away is reported once and written to no more', (t) => {
    mockTimers(t);
    const { sink, conn, closes } = openConnection();
    sink.emit('close');
    send(conn, 1);
    sink.emit('close');
    assert.deepEqual(closes, ['client_gone']);
    assert.equal(sink.events().length, 0);
  });

  test('end() hands over what is queued, then ends the response', (t) => {
    mockTimers(t);
    const { sink, conn, closes } = openConnection();
    sink.isFull = true;
    send(conn, 1);
    send(conn, 2);
    conn.end();
    assert.deepEqual(sink.events().map((e) => e.id), ['1', '2']);
    assert.equal(sink.isEnded, true);
    assert.deepEqual(closes, ['ended']);
  });
});
