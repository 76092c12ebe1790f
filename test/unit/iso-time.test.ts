import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoTime } from '../../src/common/iso-time.js';

test('the same string as Date#toISOString, field by field', () => {
  const cases = [
    0, 1, 9, 10, 99, 100, 999, // millisecond padding
    Date.UTC(2024, 1, 29, 23, 59, 59, 999), // leap day, last ms
    Date.UTC(2023, 11, 31, 23, 59, 59, 5), // year end
    Date.UTC(2026, 0, 1, 0, 0, 0, 50),
    Date.UTC(1969, 11, 31, 23, 59, 59, 999), // before the epoch
    Date.UTC(5, 6, 7, 8, 9, 10, 11), // a year under 1000 pads to four digits
    Date.UTC(9999, 11, 31, 23, 59, 59, 999),
    -62_167_219_200_000, // 0000-01-01T00:00:00.000Z
  ];
  for (const ms of cases) assert.equal(isoTime(ms), new Date(ms).toISOString(), `ms ${ms}`);
});

test('random instants over three centuries agree with Date#toISOString', () => {
  const from = Date.UTC(1900, 0, 1);
  const span = Date.UTC(2200, 0, 1) - from;
  for (let i = 0; i < 20_000; i++) {
    const ms = from + Math.floor(Math.random() * span);
    assert.equal(isoTime(ms), new Date(ms).toISOString(), `ms ${ms}`);
  }
});

test('years outside 0000–9999 take the built-in extended form', () => {
  for (const ms of [Date.UTC(10000, 0, 1), -62_167_219_200_001]) {
    assert.equal(isoTime(ms), new Date(ms).toISOString());
  }
  assert.match(isoTime(Date.UTC(10000, 0, 1)), /^\+010000-01-01T/);
  assert.throws(() => isoTime(Number.NaN), RangeError, 'an invalid time fails as Date#toISOString does');
});
