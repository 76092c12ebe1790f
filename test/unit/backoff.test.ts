import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nextDelay } from '../../src/common/backoff.js';

const OPTS = { baseMs: 1000, maxMs: 60_000 };
const JUST_UNDER_ONE = 0.999999;

/** attempt → min(max, base × 2^attempt) with base 1000, max 60000. */
const CEILINGS: Array<[number, number]> = [
  [0, 1000],
  [1, 2000],
  [2, 4000],
  [3, 8000],
  [4, 16_000],
  [5, 32_000],
  [6, 60_000], // 64 000 capped
  [7, 60_000],
  [10, 60_000],
  [31, 60_000],
  [32, 60_000],
  [1000, 60_000],
];

describe('nextDelay', () => {
  test('a random draw of 0 gives no delay', () => {
    for (const [attempt] of CEILINGS) assert.equal(nextDelay(attempt, OPTS, () => 0), 0);
  });

  test('a random draw just under 1 gives a delay just under the ceiling', () => {
    for (const [attempt, ceiling] of CEILINGS) {
      assert.equal(nextDelay(attempt, OPTS, () => JUST_UNDER_ONE), ceiling - 1, `attempt ${attempt}`);
    }
  });

  test('the ceiling doubles per attempt from the base and is capped at the max', () => {
    for (const [attempt, ceiling] of CEILINGS) {
      assert.equal(nextDelay(attempt, OPTS, () => 0.5), ceiling / 2, `attempt ${attempt}`);
    }
  });

  test('returns whole milliseconds', () => {
    assert.equal(nextDelay(0, OPTS, () => 0.12345), 123);
    assert.equal(nextDelay(3, { baseMs: 7, maxMs: 1000 }, () => 0.3), 16); // floor(0.3 × 56)
  });

  test('huge attempt numbers stay finite and within the max', () => {
    for (const attempt of [1e6, 2 ** 53, Number.MAX_SAFE_INTEGER, Infinity]) {
      const high = nextDelay(attempt, OPTS, () => JUST_UNDER_ONE);
      assert.ok(Number.isFinite(high), `attempt ${attempt} gave ${high}`);
      assert.equal(high, 60_000 - 1, `attempt ${attempt}`);
    }
  });

  test('a huge attempt with a large cap still respects the cap', () => {
    const opts = { baseMs: 500, maxMs: Number.MAX_SAFE_INTEGER };
    const d = nextDelay(1e6, opts, () => 0.5);
    assert.ok(Number.isFinite(d));
    assert.ok(d <= opts.maxMs);
  });

  test('a negative attempt is treated as the first attempt', () => {
    for (const attempt of [-1, -5, -1e9, -Infinity]) {
      assert.equal(nextDelay(attempt, OPTS, () => 0.5), 500, `attempt ${attempt}`);
    }
  });

  test('a fractional attempt rounds down to the whole attempt', () => {
    assert.equal(nextDelay(2.9, OPTS, () => 0.5), 2000);
    assert.equal(nextDelay(0.5, OPTS, () => 0.5), 500);
    assert.equal(nextDelay(-0.5, OPTS, () => 0.5), 500);
  });

  test('a NaN attempt is treated as the first attempt instead of giving NaN', () => {
    // setTimeout(fn, NaN) fires after 1 ms: a NaN delay would be a tight reconnect loop.
    assert.equal(nextDelay(Number.NaN, OPTS, () => 0.5), 500);
  });

  test('the default random stays within [0, ceiling) and varies', () => {
    for (const [attempt, ceiling] of [[0, 1000], [3, 8000], [20, 60_000]] as const) {
      const seen = new Set<number>();
      for (let i = 0; i < 1000; i++) {
        const d = nextDelay(attempt, OPTS);
        assert.ok(Number.isInteger(d), `non-integer ${d}`);
        assert.ok(d >= 0 && d < ceiling, `attempt ${attempt}: ${d} outside [0, ${ceiling})`);
        seen.add(d);
      }
      assert.ok(seen.size > 100, `only ${seen.size} distinct delays for attempt ${attempt}`);
    }
  });
});
