import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatComment, formatEvent, formatJsonEvent, formatRetry } from '../../src/http/sse/format.js';
import { SseTestParser } from '../helpers/sse-client.js';

function parseOne(text: string): { id: string | null; event: string; data: string } {
  const events = new SseTestParser().push(text);
  assert.equal(events.length, 1, `exactly one event in ${JSON.stringify(text)}`);
  const { id, event, data } = events[0]!;
  return { id, event, data };
}

describe('SSE event formatting', () => {
  test('an event has an id, a name and one JSON data line, then a blank line', () => {
    const text = formatEvent(42, 'task', { task_id: 't1', status: 'running' });
    assert.equal(text, 'id: 42\nevent: task\ndata: {"task_id":"t1","status":"running"}\n\n');
    assert.deepEqual(parseOne(text), { id: '42', event: 'task', data: '{"task_id":"t1","status":"running"}' });
  });

  test('line breaks and field-like text inside values cannot split the event or forge fields', () => {
    const nasty = 'one\ntwo\r\nthree\rfour\n\nid: 999\nevent: end\ndata: forged\u2028\u2029';
    const text = formatEvent(7, 'output', { line: nasty });
    assert.equal(text.split('\n').filter((l) => l.startsWith('data:')).length, 1, 'one data line');
    const parsed = parseOne(text);
    assert.equal(parsed.id, '7');
    assert.equal(parsed.event, 'output');
    assert.deepEqual(JSON.parse(parsed.data), { line: nasty });
  });

  test('pre-serialised JSON with CR/LF between tokens is re-encoded onto one line', () => {
    const parsed = parseOne(formatJsonEvent(3, 'log', '{"level":30,\r\n"msg":"hi"}'));
    assert.deepEqual(JSON.parse(parsed.data), { level: 30, msg: 'hi' });
    const notJson = parseOne(formatJsonEvent(4, 'log', 'not\njson'));
    assert.equal(JSON.parse(notJson.data), 'not\njson');
  });

  test('a notice may carry no id', () => {
    const text = formatJsonEvent(null, 'dropped', '{}');
    assert.equal(text, 'event: dropped\ndata: {}\n\n');
  });

  test('ids must be non-negative integers and names plain words', () => {
    assert.throws(() => formatEvent(-1, 'task', {}), RangeError);
    assert.throws(() => formatEvent(1.5, 'task', {}), RangeError);
    assert.throws(() => formatEvent(1, 'task\ndata: x', {}), RangeError);
    assert.throws(() => formatEvent(1, '', {}), RangeError);
  });

  test('comments and retry are what a client skips and obeys', () => {
    const parser = new SseTestParser();
    assert.deepEqual(parser.push(formatRetry(2000) + formatComment('keep-alive\nid: 5')), []);
    assert.equal(parser.retry, 2000);
    assert.equal(parser.comments, 1);
    assert.equal(formatComment('keep-alive'), ': keep-alive\n\n');
  });
});
