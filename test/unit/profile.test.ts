import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { probe } from '../../src/common/with-timeout.js';
import type { HeartbeatMetrics } from '../../src/protocol/types.js';
import { createMetricsSampler } from '../../src/worker/metrics.js';
import { collectProfile, deriveCapabilities, detectPlatform, pickFsFor } from '../../src/worker/profile.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: Error) => void;
  isSettled: () => boolean;
}

function deferred<T>(): Deferred<T> {
  let settled = false;
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = (v) => ((settled = true), res(v));
    reject = (e) => ((settled = true), rej(e));
  });
  return { promise, resolve, reject, isSettled: () => settled };
}

/** Lets pending microtasks and the unhandled-rejection check run. */
async function drainEventLoop(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

const PROFILE_OPTS = { role: 'worker', tags: ['lab'], maxTasks: 2, taskTypes: ['echo', 'shell'] };

function assertPercentOrNull(value: number | null | undefined, name: string): void {
  assert.ok(value === null || (typeof value === 'number' && value >= 0 && value <= 100), `${name}=${value}`);
}

describe('probe', () => {
  test('returns the value of a call that settles in time', async () => {
    assert.equal(await probe(async () => 42, 1000, -1), 42);
  });

  test('returns the fallback when the call rejects or throws synchronously', async () => {
    assert.equal(await probe(() => Promise.reject(new Error('boom')), 1000, -1), -1);
    const throwsSync = (): Promise<number> => {
      throw new Error('sync boom');
    };
    assert.equal(await probe(throwsSync, 1000, -1), -1);
  });

  test('returns the fallback on timeout while the slow call is still pending', async (t) => {
    const slow = deferred<number>();
    // Stands in for the child process a real slow call would keep alive.
    const keepAlive = setTimeout(() => {}, 60_000);
    t.after(() => clearTimeout(keepAlive));
    assert.equal(await probe(() => slow.promise, 10, -1), -1);
    assert.equal(slow.isSettled(), false);
  });

  test('a slow call that rejects after the timeout is not an unhandled rejection', async (t) => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    t.after(() => process.off('unhandledRejection', onUnhandled));
    const keepAlive = setTimeout(() => {}, 60_000);
    t.after(() => clearTimeout(keepAlive));
    const slow = deferred<number>();
    assert.equal(await probe(() => slow.promise, 10, -1), -1);
    slow.reject(new Error('late failure'));
    await drainEventLoop();
    assert.deepEqual(unhandled, []);
  });

  test('its timer is unref()ed and cleared once the call settles', async (t) => {
    const setTimeoutSpy = t.mock.method(globalThis, 'setTimeout');
    const clearTimeoutSpy = t.mock.method(globalThis, 'clearTimeout');
    const call = deferred<number>();
    const pending = probe(() => call.promise, 60_000, -1);
    const timer = setTimeoutSpy.mock.calls.find((c) => c.arguments[1] === 60_000)?.result as NodeJS.Timeout;
    assert.equal(timer.hasRef(), false);
    call.resolve(7);
    assert.equal(await pending, 7);
    assert.ok(clearTimeoutSpy.mock.calls.some((c) => c.arguments[0] === timer));
  });
});

describe('profile helpers', () => {
  test('detects Termux as android whatever process.platform says', () => {
    assert.equal(detectPlatform({ PREFIX: '/data/data/com.termux/files/usr' }), 'android');
    assert.equal(detectPlatform({ ANDROID_ROOT: '/system' }), 'android');
    assert.equal(detectPlatform({}), process.platform);
  });

  test('picks the filesystem with the longest mount prefix, on path boundaries', () => {
    const fs = (mount: string) => ({ fs: mount, type: 'ext4', size: 1, used: 0, available: 1, use: 0, mount, rw: true });
    const entries = [fs('/'), fs('/data'), fs('/data/media')];
    assert.equal(pickFsFor(entries, '/data/media/0/rc')?.mount, '/data/media');
    assert.equal(pickFsFor(entries, '/data')?.mount, '/data');
    assert.equal(pickFsFor(entries, '/database')?.mount, '/');
    assert.equal(pickFsFor([fs('/boot')], '/home'), null);
  });

  test('derives capabilities only from known facts', () => {
    assert.deepEqual(deriveCapabilities({ gpu: true, has_battery: true }, ['echo'], 'arm64'), ['arm', 'gpu', 'battery', 'echo']);
    assert.deepEqual(deriveCapabilities({ gpu: null, has_battery: null }, [], 'x64'), ['x86']);
  });
});

describe('collectProfile on this machine', () => {
  test('reports the hardware and OS this Linux box has', async () => {
    const p = await collectProfile(PROFILE_OPTS);
    assert.equal(p.platform, 'linux');
    assert.equal(p.arch, process.arch);
    assert.equal(p.node_version, process.version);
    assert.ok((p.hardware?.cpu_count ?? 0) > 0);
    assert.ok((p.hardware?.memory_total_gb ?? 0) > 0);
    assert.ok((p.hardware?.storage_total_gb ?? 0) > 0);
    assert.equal(p.os?.platform, 'linux');
    assert.equal(typeof p.hostname, 'string');
    assert.deepEqual([p.role, p.tags, p.max_tasks, p.task_types], ['worker', ['lab'], 2, ['echo', 'shell']]);
    assert.ok(Array.isArray(p.capabilities) && p.capabilities.includes('echo'));
    assert.ok(p.battery === null || typeof p.battery?.percent === 'number');
  });

  test('still resolves when every probe times out at once', async () => {
    const p = await collectProfile({ ...PROFILE_OPTS, probeTimeoutMs: 1 });
    assert.equal(p.arch, process.arch);
    assert.ok(p.hardware && 'cpu_count' in p.hardware);
  });
});

describe('metrics sampler on this machine', () => {
  function assertSampleShape(m: HeartbeatMetrics, activeTasks: number): void {
    assert.equal(m.active_tasks, activeTasks);
    for (const key of ['cpu_usage', 'memory_usage', 'disk_usage'] as const) assertPercentOrNull(m[key], key);
    assert.ok(m.temperature_c === null || typeof m.temperature_c === 'number');
  }

  test('reports percentages, load and uptime, and echoes active tasks', async () => {
    const sampler = createMetricsSampler();
    const first = await sampler.sample(3);
    assertSampleShape(first, 3);
    for (const key of ['cpu_usage', 'memory_usage', 'disk_usage', 'uptime_s'] as const) {
      assert.equal(typeof first[key], 'number', key);
    }
    assert.equal(first.load_average?.length, 3);
    assertSampleShape(await sampler.sample(0), 0);
  });

  test('still resolves when every probe times out at once', async () => {
    const m = await createMetricsSampler({ probeTimeoutMs: 1 }).sample(1);
    assertSampleShape(m, 1);
  });
});
