import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRcError } from '../../src/common/errors.js';
import { DEFAULT_SSE_OPTIONS, sseOptionsFromEnv } from '../../src/http/sse/sse-options.js';

test('SSE limits default to 1000-event rings, 1 MiB / 2000 events per client, 15 s keep-alive', () => {
  const o = sseOptionsFromEnv({});
  assert.deepEqual(o, { ...DEFAULT_SSE_OPTIONS });
  assert.equal(o.ringSize, 1000);
  assert.equal(o.clientMaxQueueBytes, 1024 * 1024);
  assert.equal(o.keepAliveMs, 15_000);
});

test('RC_SSE_* variables override them, and a client queue always holds two full replays', () => {
  const o = sseOptionsFromEnv({ RC_SSE_RING_SIZE: '5000', RC_SSE_KEEPALIVE_MS: '100' });
  assert.equal(o.ringSize, 5000);
  assert.equal(o.keepAliveMs, 100);
  assert.equal(o.clientMaxQueueEvents, 10_000);
});

test('a bad value stops startup with RC_ERR_CONFIG naming the variable', () => {
  for (const bad of ['0', '-3', '1.5', 'many']) {
    assert.throws(() => sseOptionsFromEnv({ RC_SSE_RING_SIZE: bad }), (err: unknown) => isRcError(err) && err.code === 'RC_ERR_CONFIG' && /RC_SSE_RING_SIZE/.test(err.message));
  }
});
