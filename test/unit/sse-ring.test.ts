import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EventRing } from '../../src/http/sse/event-ring.js';

function filled(capacity: number, count: number): EventRing<string> {
  const ring = new EventRing<string>(capacity);
  for (let i = 0; i < count; i++) ring.push((id) => `frame ${id}`, `meta ${i + 1}`);
  return ring;
}

const ids = (events: ReadonlyArray<{ id: number }>): number[] => events.map((e) => e.id);

describe('EventRing', () => {
  test('gives ids 1, 2, 3… and passes the id to the formatter', () => {
    const ring = filled(10, 3);
    assert.equal(ring.lastId, 3);
    const { events } = ring.since(0);
    assert.deepEqual(ids(events), [1, 2, 3]);
    assert.deepEqual(events.map((e) => e.frame), ['frame 1', 'frame 2', 'frame 3']);
    assert.deepEqual(events.map((e) => e.meta), ['meta 1', 'meta 2', 'meta 3']);
  });

  test('resumes after an id with exactly the events that followed it', () => {
    const ring = filled(10, 7);
    assert.deepEqual(ids(ring.since(4).events), [5, 6, 7]);
    assert.equal(ring.since(4).gap, null);
    assert.deepEqual(ids(ring.since(7).events), [], 'nothing after the newest');
  });

  test('holds at most its capacity, newest last', () => {
    const ring = filled(4, 11);
    assert.equal(ring.size, 4);
    assert.equal(ring.oldestId, 8);
    assert.deepEqual(ids(ring.since(7).events), [8, 9, 10, 11]);
    assert.equal(ring.since(7).gap, null, 'the event right before the oldest held is no gap');
  });

  test('reports the ids that fell out of the ring, then gives all it has', () => {
    const ring = filled(4, 11);
    const replay = ring.since(3);
    assert.deepEqual(replay.gap, { missed_from: 4, missed_to: 7 });
    assert.equal(replay.gapId, 7, 'after the notice the client has accounted for everything up to 7');
    assert.deepEqual(ids(replay.events), [8, 9, 10, 11]);
    assert.deepEqual(ring.since(0).gap, { missed_from: 1, missed_to: 7 });
  });

  test('an id newer than the stream (a restarted master) is a gap of unknown size', () => {
    const ring = filled(4, 2);
    const replay = ring.since(500);
    assert.deepEqual(replay.gap, { missed_from: null, missed_to: null });
    assert.equal(replay.gapId, 0);
    assert.deepEqual(ids(replay.events), [1, 2]);
  });

  test('a fresh stream resumed from 0 has no gap', () => {
    const ring = new EventRing<null>(3);
    assert.deepEqual(ring.since(0), { gap: null, events: [], gapId: 0 });
  });

  test('refuses a capacity that is not a positive integer', () => {
    assert.throws(() => new EventRing(0), RangeError);
    assert.throws(() => new EventRing(1.5), RangeError);
  });
});

describe('EventRing started after an earlier one', () => {
  test('continues its ids, so ids the client saw before still mean what they meant', () => {
    const ring = new EventRing<null>(3, 41);
    assert.equal(ring.lastId, 40);
    ring.push((id) => `frame ${id}`, null);
    assert.deepEqual(ids(ring.since(40).events), [41]);
    assert.equal(ring.since(40).gap, null);
    assert.deepEqual(ring.since(12).gap, { missed_from: 13, missed_to: 40 });
  });
});

test('lazy events: the text is made only when read, once, and keeps ids and order with eager ones', () => {
  const ring = new EventRing<null>(3);
  let renders = 0;
  ring.push((id) => `eager ${id}`, null);
  const lazy = ring.pushLazy((id) => {
    renders++;
    return `lazy ${id}`;
  }, null);
  assert.equal(renders, 0, 'nothing rendered while nobody reads');
  assert.equal(ring.chars, 'eager 1'.length, 'lazy events are not counted');
  const { events } = ring.since(0);
  assert.deepEqual(events.map((e) => [e.id, e.frame]), [[1, 'eager 1'], [2, 'lazy 2']]);
  assert.equal(lazy.frame, 'lazy 2');
  assert.equal(renders, 1, 'rendered once, then kept');
  ring.push((id) => `eager ${id}`, null);
  ring.push((id) => `eager ${id}`, null);
  assert.equal(ring.chars, 'eager 3'.length + 'eager 4'.length, 'evicting the first eager event keeps the count right');
  ring.push((id) => `eager ${id}`, null);
  assert.equal(ring.chars, 'eager 3'.length + 'eager 4'.length + 'eager 5'.length, 'evicting a lazy event subtracts nothing');
});
