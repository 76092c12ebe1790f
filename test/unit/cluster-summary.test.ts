import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeCluster } from '../../src/master/cluster-summary.js';
import type { DeviceProfile, DeviceRecord, DeviceState } from '../../src/store/store.js';

function device(id: string, state: DeviceState, profile: Partial<DeviceProfile> = {}): DeviceRecord {
  return {
    device_id: id,
    state,
    ip_address: null,
    first_seen_ms: 0,
    last_seen_ms: 0,
    registered_at_ms: 0,
    last_metrics: null,
    profile: {
      hostname: id,
      role: 'worker',
      tags: [],
      platform: 'linux',
      arch: 'arm64',
      cpu_count: 4,
      cpu_model: null,
      memory_total_gb: 4,
      storage_total_gb: 32,
      gpu: null,
      max_tasks: 1,
      task_types: [],
      node_version: null,
      protocol_version: '1.0',
      extra: {},
      ...profile,
    },
  };
}

describe('summarizeCluster', () => {
  test('an empty cluster has zero of everything', () => {
    assert.deepEqual(summarizeCluster([]), {
      total_devices: 0,
      online_devices: 0,
      suspect_devices: 0,
      offline_devices: 0,
      total_resources: { cpu_cores: 0, memory_gb: 0, storage_gb: 0 },
      by_role: {},
      by_platform: {},
    });
  });

  test('counts devices by state', () => {
    const stats = summarizeCluster([
      device('a', 'online'),
      device('b', 'online'),
      device('c', 'suspect'),
      device('d', 'offline'),
      device('e', 'offline'),
      device('f', 'offline'),
    ]);
    assert.equal(stats.total_devices, 6);
    assert.equal(stats.online_devices, 2);
    assert.equal(stats.suspect_devices, 1);
    assert.equal(stats.offline_devices, 3);
  });

  test('sums resources of online devices only', () => {
    const stats = summarizeCluster([
      device('a', 'online', { cpu_count: 4, memory_total_gb: 3.7, storage_total_gb: 29.1 }),
      device('b', 'online', { cpu_count: 8, memory_total_gb: 15.5, storage_total_gb: 476.9 }),
      device('c', 'suspect', { cpu_count: 100, memory_total_gb: 100, storage_total_gb: 100 }),
      device('d', 'offline', { cpu_count: 1000, memory_total_gb: 1000, storage_total_gb: 1000 }),
    ]);
    assert.deepEqual(stats.total_resources, { cpu_cores: 12, memory_gb: 19.2, storage_gb: 506 });
  });

  test('treats unknown hardware sizes as zero', () => {
    const stats = summarizeCluster([
      device('legacy', 'online', { cpu_count: null, memory_total_gb: null, storage_total_gb: null }),
      device('pi', 'online', { cpu_count: 4, memory_total_gb: 1, storage_total_gb: 16 }),
    ]);
    assert.deepEqual(stats.total_resources, { cpu_cores: 4, memory_gb: 1, storage_gb: 16 });
  });

  test('rounds memory and storage totals to two decimals', () => {
    const stats = summarizeCluster([
      device('a', 'online', { memory_total_gb: 0.1, storage_total_gb: 1.111 }),
      device('b', 'online', { memory_total_gb: 0.2, storage_total_gb: 2.222 }),
    ]);
    assert.equal(stats.total_resources.memory_gb, 0.3);
    assert.equal(stats.total_resources.storage_gb, 3.33);
  });

  test('counts every device by role and platform whatever its state, unknown platform included', () => {
    const stats = summarizeCluster([
      device('a', 'online', { role: 'worker', platform: 'linux' }),
      device('b', 'offline', { role: 'worker', platform: 'android' }),
      device('c', 'suspect', { role: 'mobile', platform: null }),
      device('d', 'online', { role: 'compute', platform: 'linux' }),
    ]);
    assert.deepEqual(stats.by_role, { worker: 2, mobile: 1, compute: 1 });
    assert.deepEqual(stats.by_platform, { linux: 2, android: 1, unknown: 1 });
  });

  test('does not modify the device records', () => {
    const devices = [device('a', 'online'), device('b', 'offline')];
    const before = structuredClone(devices);
    summarizeCluster(devices);
    assert.deepEqual(devices, before);
  });
});
