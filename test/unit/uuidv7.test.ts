import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uuidv7, Uuidv7Generator, uuidv7Timestamp } from '../../src/common/uuidv7.js';

/** Version nibble 7, variant bits 10 (first hex of the 4th group is 8, 9, a or b). */
const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function counterOf(id: string): number {
  return parseInt(id.slice(15, 18), 16);
}

test('has the RFC 9562 layout, version 7 and variant 10', () => {
  for (let i = 0; i < 1000; i++) {
    const id = uuidv7();
    assert.match(id, UUIDV7);
    const bytes = Buffer.from(id.replaceAll('-', ''), 'hex');
    assert.equal(bytes.length, 16);
    assert.equal(bytes[6]! >> 4, 7);
    assert.equal(bytes[8]! >> 6, 0b10);
  }
});

test('the timestamp decodes back to the given millisecond', () => {
  for (const ms of [0, 1, 1_700_000_000_123, 0x1234_5678_9abc, 2 ** 48 - 1]) {
    assert.equal(uuidv7Timestamp(new Uuidv7Generator().next(ms)), ms);
  }
  assert.equal(new Uuidv7Generator().next(1_700_000_000_123).slice(0, 13), '018bcfe5-687b');
});

test('the process-wide uuidv7() stamps the current time', () => {
  const before = Date.now();
  const ts = uuidv7Timestamp(uuidv7());
  assert.ok(ts >= before && ts <= Date.now(), `${ts} not within [${before}, now]`);
});

test('100k ids made in a tight loop strictly increase as strings', () => {
  const ids = new Array<string>(100_000);
  for (let i = 0; i < ids.length; i++) ids[i] = uuidv7();
  for (let i = 1; i < ids.length; i++) {
    if (!(ids[i - 1]! < ids[i]!)) assert.fail(`ids[${i - 1}] ${ids[i - 1]} >= ids[${i}] ${ids[i]}`);
  }
  assert.equal(new Set(ids).size, ids.length);
});

test('ids made in the same millisecond count up from a random seed with its top bit clear', () => {
  const gen = new Uuidv7Generator();
  const a = gen.next(1000);
  const b = gen.next(1000);
  assert.equal(counterOf(b), counterOf(a) + 1);
  assert.equal(uuidv7Timestamp(b), 1000);

  const seeds = Array.from({ length: 200 }, (_, i) => counterOf(gen.next(2000 + i)));
  assert.ok(seeds.every((s) => s <= 0x7ff), `a seed above 0x7ff: ${seeds.find((s) => s > 0x7ff)}`);
  assert.ok(new Set(seeds).size > 100, 'seeds are not random');
});

test('stays increasing when the clock goes backwards', () => {
  const gen = new Uuidv7Generator();
  const a = gen.next(5000);
  const b = gen.next(4000);
  assert.ok(a < b, `${a} >= ${b}`);
  assert.equal(uuidv7Timestamp(b), 5000);
});

test('a counter overflow moves the timestamp one millisecond ahead', () => {
  const gen = new Uuidv7Generator();
  let prev = gen.next(9000);
  // At most 4096 ids fit in one millisecond, so 4097 calls must overflow.
  for (let i = 0; i < 4096; i++) {
    const id = gen.next(9000);
    assert.ok(prev < id, `${prev} >= ${id}`);
    prev = id;
  }
  assert.equal(uuidv7Timestamp(prev), 9001);
});

test('rejects timestamps a UUIDv7 cannot hold', () => {
  const gen = new Uuidv7Generator();
  assert.throws(() => gen.next(-1), RangeError);
  assert.throws(() => gen.next(2 ** 48), RangeError);
  assert.throws(() => gen.next(Number.NaN), RangeError);
});

