import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SUSPECT_AFTER_INTERVALS, deriveState, livenessTickMs } from '../../src/master/liveness.js';

const OPTS = { heartbeatIntervalMs: 1000, offlineAfterMs: 10_000 };
const NOW = 1_800_000_000_000;

function stateAtAge(ageMs: number, opts = OPTS): string {
  return deriveState(NOW - ageMs, NOW, opts);
}

describe('deriveState', () => {
  test('a device is suspect after two missed heartbeats', () => {
    assert.equal(SUSPECT_AFTER_INTERVALS, 2);
  });

  test('is online from age 0 up to and including two heartbeat intervals', () => {
    for (const age of [0, 1, 999, 1000, 1999, 2000]) assert.equal(stateAtAge(age), 'online', `age ${age}`);
  });

  test('is suspect just above two intervals and up to offlineAfter', () => {
    for (const age of [2001, 5000, 9999, 10_000]) assert.equal(stateAtAge(age), 'suspect', `age ${age}`);
  });

  test('is offline just above offlineAfter', () => {
    for (const age of [10_001, 60_000, 1e9]) assert.equal(stateAtAge(age), 'offline', `age ${age}`);
  });

  test('a last-seen time in the future (clock step) counts as online', () => {
    assert.equal(stateAtAge(-5000), 'online');
  });

  test('scales with the configured interval', () => {
    const opts = { heartbeatIntervalMs: 30_000, offlineAfterMs: 120_000 };
    assert.equal(stateAtAge(60_000, opts), 'online');
    assert.equal(stateAtAge(60_001, opts), 'suspect');
    assert.equal(stateAtAge(120_000, opts), 'suspect');
    assert.equal(stateAtAge(120_001, opts), 'offline');
  });

  test('goes straight to offline when offlineAfter is shorter than two intervals', () => {
    const opts = { heartbeatIntervalMs: 1000, offlineAfterMs: 1500 };
    assert.equal(stateAtAge(1500, opts), 'online');
    assert.equal(stateAtAge(1501, opts), 'offline');
  });
});

describe('livenessTickMs', () => {
  const cases: Array<[number, number]> = [
    [0, 100],
    [50, 100],
    [100, 100],
    [400, 100],
    [404, 101],
    [1000, 250],
    [2000, 500],
    [3999, 999],
    [4000, 1000],
    [4004, 1000],
    [30_000, 1000],
    [3_600_000, 1000],
  ];
  for (const [interval, tick] of cases) {
    test(`ticks every ${tick} ms for a ${interval} ms heartbeat interval`, () => {
      assert.equal(livenessTickMs(interval), tick);
    });
  }

  test('always gives a whole number of milliseconds', () => {
    for (const interval of [401, 1001, 2222, 3333]) assert.ok(Number.isInteger(livenessTickMs(interval)), `${interval}`);
  });
});
