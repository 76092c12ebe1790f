import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { LogFeed, type LogEntry } from '../../src/master/log-feed.js';

describe('LogFeed', () => {
  test('parses pino lines (with or without a newline) and emits each entry', () => {
    const feed = new LogFeed();
    const seen: LogEntry[] = [];
    feed.on('entry', (e) => seen.push(e));
    feed.write('{"level":40,"time":1700000000000,"msg":"disk low","component":"store"}\n');
    feed.write('{"level":30,"time":1700000000001,"msg":"ok"}');
    assert.deepEqual(seen.map((e) => [e.level, e.time, e.msg]), [[40, 1700000000000, 'disk low'], [30, 1700000000001, 'ok']]);
    assert.equal(seen[0]!.line, '{"level":40,"time":1700000000000,"msg":"disk low","component":"store"}');
  });

  test('keeps a line that is not JSON as its text at level 30, and never throws', () => {
    const feed = new LogFeed();
    feed.on('entry', () => {
      throw new Error('a broken listener');
    });
    assert.doesNotThrow(() => feed.write('not json at all\n'));
    assert.doesNotThrow(() => feed.write('[1,2]'));
    assert.doesNotThrow(() => feed.write(''));
    const [a, b] = feed.recent(10);
    assert.equal(a?.level, 30);
    assert.equal(a?.msg, 'not json at all');
    assert.deepEqual(JSON.parse(a!.line), { level: 30, time: a!.time, msg: 'not json at all' }, 'line is always one JSON object');
    assert.equal(b?.msg, '[1,2]');
    assert.equal(feed.recent(10).length, 2, 'the empty write adds nothing');
  });

  test('splits a chunk that holds several lines', () => {
    const feed = new LogFeed();
    feed.write('{"level":20,"msg":"a"}\n{"level":50,"msg":"b"}\n');
    assert.deepEqual(feed.recent(10).map((e) => e.msg), ['a', 'b']);
  });

  test('keeps the newest entries only, and recent() filters by level, oldest first', () => {
    const feed = new LogFeed(5);
    for (let i = 1; i <= 12; i++) feed.write(`{"level":${i % 2 === 0 ? 40 : 30},"msg":"m${i}"}`);
    assert.deepEqual(feed.recent(100).map((e) => e.msg), ['m8', 'm9', 'm10', 'm11', 'm12']);
    assert.deepEqual(feed.recent(2).map((e) => e.msg), ['m11', 'm12']);
    assert.deepEqual(feed.recent(100, 40).map((e) => e.msg), ['m8', 'm10', 'm12']);
  });

  test('holds 2000 entries by default', () => {
    const feed = new LogFeed();
    for (let i = 0; i < 2100; i++) feed.write(`{"level":30,"msg":"m${i}"}`);
    const all = feed.recent(5000);
    assert.equal(all.length, 2000);
    assert.equal(all[0]?.msg, 'm100');
  });

  test('works as a pino destination', () => {
    const feed = new LogFeed();
    const log = pino({ level: 'debug' }, feed);
    log.child({ component: 'wire' }).warn({ device_id: 'd1' }, 'device lost');
    log.debug('details');
    const [warn, debug] = feed.recent(10);
    assert.equal(warn?.level, 40);
    assert.equal(warn?.msg, 'device lost');
    assert.equal(JSON.parse(warn!.line).component, 'wire');
    assert.equal(debug?.level, 20);
  });
});
