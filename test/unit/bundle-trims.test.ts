import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { PINO_TRIMS, pinoTrim } from '../../src/tools/bundle-worker.js';

/** Runs one trimmed module's source as CommonJS, the way the bundle does. */
function load(name: string): unknown {
  const module = { exports: {} as unknown };
  new Function('module', 'require', PINO_TRIMS[name]!)(module, createRequire(import.meta.url));
  return module.exports;
}

test('only pino\'s own imports are trimmed, nobody else\'s', () => {
  assert.equal(pinoTrim('thread-stream', '/r/node_modules/pino/lib/transport.js')?.path, 'pino-no-transports');
  assert.equal(pinoTrim('worker_threads', '/r/node_modules/pino/lib/tools.js')?.path, 'pino-main-thread');
  assert.equal(pinoTrim('assert', '/r/node_modules/sonic-boom/index.js')?.path, 'lazy-assert');
  assert.equal(pinoTrim('worker_threads', 'C:\\r\\node_modules\\pino\\lib\\tools.js')?.path, 'pino-main-thread', 'Windows paths too');
  assert.equal(pinoTrim('assert', '/r/dist/src/worker/session.js'), undefined);
  assert.equal(pinoTrim('worker_threads', '/r/dist/src/worker/executor.js'), undefined);
  assert.equal(pinoTrim('worker_threads', '/r/node_modules/thread-stream/index.js'), undefined);
  assert.equal(pinoTrim('thread-stream', '/r/dist/src/worker/x.js'), undefined);
});

test('the lazy assert passes a truthy value and throws node:assert\'s error on a falsy one', () => {
  const lazyAssert = load('lazy-assert') as (value: unknown, message: string) => void;
  assert.doesNotThrow(() => lazyAssert(1, 'fine'));
  assert.throws(() => lazyAssert(false, 'sonic.fd must be a number'), { name: 'AssertionError', message: 'sonic.fd must be a number' });
});

test('a pino transport in the bundle fails with a clear message; pino sees the main thread', () => {
  const ThreadStream = load('pino-no-transports') as new () => unknown;
  assert.throws(() => new ThreadStream(), /pino transports are not in the one-file worker/);
  assert.deepEqual(load('pino-main-thread'), { isMainThread: true });
});
