import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pickDevice, scoreDevice } from '../../src/scheduler/placement.js';
import { DEFAULT_WEIGHTS, type DeviceSnapshot, type PlacementWeights } from '../../src/scheduler/types.js';

function device(id: string, over: Partial<DeviceSnapshot> = {}): DeviceSnapshot {
  return {
    device_id: id, state: 'online', drained: false, unstable: false, paused: false, pause_reason: null, connected: true,
    role: 'worker', tags: [], platform: 'linux', arch: 'arm64', cpu_count: 4, memory_total_gb: 4, storage_total_gb: 32, gpu: false,
    task_types: ['echo'], max_tasks: 4, active_tasks: 0,
    cpu_usage: 0, memory_usage: 0, battery_percent: null, charging: null, health: 1, last_assigned_ms: 0,
    ...over,
  };
}

const ONLY = (key: keyof PlacementWeights): PlacementWeights => ({ cpu: 0, memory: 0, active_tasks: 0, health: 0, [key]: 1 });

describe('scoreDevice', () => {
  test('defaults weigh cpu 40 %, memory 30 %, active tasks 20 %, health 10 %', () => {
    assert.deepEqual({ ...DEFAULT_WEIGHTS }, { cpu: 0.4, memory: 0.3, active_tasks: 0.2, health: 0.1 });
  });

  test('an idle healthy device scores the sum of the weights', () => {
    assert.ok(Math.abs(scoreDevice(device('a'), DEFAULT_WEIGHTS) - 1) < 1e-12);
  });

  test('follows the weighted formula', () => {
    const d = device('a', { cpu_usage: 25, memory_usage: 60, active_tasks: 1, max_tasks: 4, health: 0.5 });
    const expected = 0.4 * 0.75 + 0.3 * 0.4 + 0.2 * 0.75 + 0.1 * 0.5;
    assert.ok(Math.abs(scoreDevice(d, DEFAULT_WEIGHTS) - expected) < 1e-12);
  });

  test('each term moves only with its own input', () => {
    assert.equal(scoreDevice(device('a', { cpu_usage: 80 }), ONLY('cpu')), 1 - 0.8);
    assert.equal(scoreDevice(device('a', { memory_usage: 30 }), ONLY('memory')), 1 - 0.3);
    assert.equal(scoreDevice(device('a', { active_tasks: 3, max_tasks: 4 }), ONLY('active_tasks')), 0.25);
    assert.equal(scoreDevice(device('a', { health: 0.2 }), ONLY('health')), 0.2);
  });

  test('unknown cpu or memory usage counts as 50 %', () => {
    assert.equal(scoreDevice(device('a', { cpu_usage: null }), ONLY('cpu')), 0.5);
    assert.equal(scoreDevice(device('a', { memory_usage: null }), ONLY('memory')), 0.5);
  });

  test('out-of-range inputs are clamped, and a device without slots scores 0 for load', () => {
    assert.equal(scoreDevice(device('a', { cpu_usage: 130 }), ONLY('cpu')), 0);
    assert.equal(scoreDevice(device('a', { memory_usage: -10 }), ONLY('memory')), 1);
    assert.equal(scoreDevice(device('a', { active_tasks: 0, max_tasks: 0 }), ONLY('active_tasks')), 0);
    assert.equal(scoreDevice(device('a', { active_tasks: 6, max_tasks: 4 }), ONLY('active_tasks')), 0);
    assert.equal(scoreDevice(device('a', { health: 3 }), ONLY('health')), 1);
  });
});

describe('pickDevice', () => {
  test('no candidates → null', () => {
    assert.equal(pickDevice([], DEFAULT_WEIGHTS), null);
  });

  test('a stable device beats an unstable one even with a worse score; among unstable ones the score decides', () => {
    const flappingIdle = device('a-flapping', { unstable: true, cpu_usage: 0 });
    const stableBusy = device('z-stable', { cpu_usage: 95, memory_usage: 90 });
    assert.equal(pickDevice([flappingIdle, stableBusy], DEFAULT_WEIGHTS)?.device_id, 'z-stable');
    assert.equal(pickDevice([stableBusy, flappingIdle], DEFAULT_WEIGHTS)?.device_id, 'z-stable');
    const flappingBusy = device('b-flapping', { unstable: true, cpu_usage: 95 });
    assert.equal(pickDevice([flappingBusy, flappingIdle], DEFAULT_WEIGHTS)?.device_id, 'a-flapping');
    assert.equal(pickDevice([flappingBusy], DEFAULT_WEIGHTS)?.device_id, 'b-flapping', 'an unstable device is still used when it is the only one');
  });

  test('picks the highest score whatever the input order', () => {
    const busy = device('busy', { cpu_usage: 90, memory_usage: 80, active_tasks: 3 });
    const idle = device('idle', { cpu_usage: 5, memory_usage: 10 });
    const mid = device('mid', { cpu_usage: 50, memory_usage: 50, active_tasks: 1 });
    for (const order of [[busy, idle, mid], [idle, mid, busy], [mid, busy, idle]]) {
      assert.equal(pickDevice(order, DEFAULT_WEIGHTS)?.device_id, 'idle');
    }
  });

  test('a tie goes to the least recently assigned device', () => {
    const recent = device('a-recent', { last_assigned_ms: 2000 });
    const older = device('z-older', { last_assigned_ms: 1000 });
    assert.equal(pickDevice([recent, older], DEFAULT_WEIGHTS)?.device_id, 'z-older');
    assert.equal(pickDevice([older, recent], DEFAULT_WEIGHTS)?.device_id, 'z-older');
  });

  test('scores within 1e-9 are a tie; a larger gap is not', () => {
    const w = ONLY('cpu');
    const tiny = device('tiny-better', { cpu_usage: 10 - 1e-8, last_assigned_ms: 5 });
    const base = device('base', { cpu_usage: 10, last_assigned_ms: 1 });
    assert.equal(pickDevice([tiny, base], w)?.device_id, 'base', 'gap 1e-10 is a tie');
    const clear = device('clearly-better', { cpu_usage: 10 - 1e-5, last_assigned_ms: 5 });
    assert.equal(pickDevice([base, clear], w)?.device_id, 'clearly-better');
  });

  test('a full tie goes to the smaller device_id', () => {
    const a = device('pi-a');
    const b = device('pi-b');
    assert.equal(pickDevice([b, a], DEFAULT_WEIGHTS)?.device_id, 'pi-a');
    assert.equal(pickDevice([a, b], DEFAULT_WEIGHTS)?.device_id, 'pi-a');
  });

  test('returns the candidate object itself', () => {
    const a = device('a');
    assert.equal(pickDevice([a], DEFAULT_WEIGHTS), a);
  });
});
