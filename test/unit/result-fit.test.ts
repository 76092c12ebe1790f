import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMessage, encodeMessage } from '../../src/protocol/codec.js';
import { MASTER_ID } from '../../src/protocol/types.js';
import type { ResultData } from '../../src/worker/executor.js';
import { fitResultToFrame, ProgressLimiter } from '../../src/worker/result-fit.js';

const LIMIT = 64 * 1024;

function result(output: string): ResultData {
  return { task_id: 't1', attempt: 1, status: 'succeeded', result: { output, exit_code: 0, error: null, duration_s: 1, truncated: false } };
}

function frameBytes(r: ResultData): number {
  return Buffer.byteLength(encodeMessage(createMessage('task_result', r, { sender: 'device-1', receiver: MASTER_ID })));
}

test('a result whose escaped output would exceed the line limit is cut to fit and marked truncated', () => {
  // Raw bytes under the limit, but every newline doubles when JSON-escaped.
  const big = result('y\n'.repeat(30_000));
  assert.ok(frameBytes(big) > LIMIT, 'the test input really is too big');
  const fitted = fitResultToFrame(big, LIMIT);
  assert.ok(frameBytes(fitted) <= LIMIT, `frame is ${frameBytes(fitted)} bytes`);
  assert.equal(fitted.result.truncated, true);
  assert.ok(fitted.result.output.length > 10_000, 'keeps as much output as fits, not nothing');
  assert.ok(big.result.output.startsWith(fitted.result.output));
});

test('control characters that escape to six bytes each are handled too', () => {
  const fitted = fitResultToFrame(result('\u0001'.repeat(40_000)), LIMIT);
  assert.ok(frameBytes(fitted) <= LIMIT);
  assert.equal(fitted.result.truncated, true);
});

test('a result that fits is returned unchanged', () => {
  const small = result('hello\n');
  assert.equal(fitResultToFrame(small, LIMIT), small);
});

test('multi-byte characters are never split', () => {
  const fitted = fitResultToFrame(result('é\n'.repeat(30_000)), LIMIT);
  assert.ok(!fitted.result.output.includes('\ufffd'));
  assert.ok(frameBytes(fitted) <= LIMIT);
});

test('the progress limiter lets a burst of 50 lines through per window and drops the rest', () => {
  const limiter = new ProgressLimiter();
  const allowed = Array.from({ length: 200 }, () => limiter.allow('t1', true)).filter(Boolean).length;
  assert.equal(allowed, 50);
  assert.equal(limiter.allow('t2', true), true, 'limits are per task');
  assert.equal(limiter.allow('t3', false), false, 'nothing is sent while disconnected');
  limiter.forget('t1');
  assert.equal(limiter.allow('t1', true), true, 'a forgotten task starts a fresh window');
});
