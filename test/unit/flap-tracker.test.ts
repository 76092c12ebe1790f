import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FlapTracker } from '../../src/master/flap-tracker.js';

const MIN = 60_000;

test('threshold drops within the window make a device unstable, once; older drops fall out of the window', () => {
  const flaps = new FlapTracker({ windowMs: 10 * MIN, threshold: 3 });
  assert.equal(flaps.recordDrop('pi', 0), false);
  assert.equal(flaps.recordDrop('pi', 1 * MIN), false);
  assert.equal(flaps.isUnstable('pi', 1 * MIN), false);
  assert.equal(flaps.recordDrop('pi', 2 * MIN), true, 'the third drop crosses the threshold');
  assert.equal(flaps.recordDrop('pi', 3 * MIN), false, 'already unstable: reported once');
  assert.equal(flaps.count('pi', 3 * MIN), 4);
  assert.equal(flaps.isUnstable('pi', 10 * MIN), true, 'drops at 1, 2 and 3 min are within the 10 min before 10 min');
  assert.equal(flaps.count('pi', 11 * MIN + 1), 2);
  assert.equal(flaps.isUnstable('pi', 11 * MIN + 1), false, 'stable again once the drops age out');
  assert.equal(flaps.count('pi', 14 * MIN), 0);
});

test('devices are counted apart, and forget() clears one', () => {
  const flaps = new FlapTracker({ windowMs: MIN, threshold: 1 });
  assert.equal(flaps.recordDrop('a', 0), true);
  assert.equal(flaps.isUnstable('b', 0), false);
  flaps.forget('a');
  assert.equal(flaps.count('a', 0), 0);
});
