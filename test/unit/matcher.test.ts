import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalArch, isAvailable, matchDevice } from '../../src/scheduler/matcher.js';
import type { DeviceSnapshot } from '../../src/scheduler/types.js';
import type { TaskRequirements } from '../../src/store/store.js';

/** A Pi on mains power that fits most tasks; each case overrides what it tests. */
function device(over: Partial<DeviceSnapshot> = {}): DeviceSnapshot {
  return {
    device_id: 'pi-1', state: 'online', drained: false, unstable: false, paused: false, pause_reason: null, connected: true,
    role: 'worker', tags: ['python', 'camera'], platform: 'linux', arch: 'arm64',
    cpu_count: 4, memory_total_gb: 4, storage_total_gb: 32, gpu: false,
    task_types: ['echo', 'exec'], max_tasks: 2, active_tasks: 0,
    cpu_usage: 10, memory_usage: 20, battery_percent: null, charging: null, health: 1, last_assigned_ms: 0,
    ...over,
  };
}

interface Case {
  name: string;
  req: TaskRequirements;
  dev?: Partial<DeviceSnapshot>;
  type?: string;
  /** null = matches; otherwise the key that fails. */
  fails: string | null;
}

const CASES: Case[] = [
  { name: 'no requirements', req: {}, fails: null },
  { name: 'task type accepted', req: {}, type: 'exec', fails: null },
  { name: 'task type not accepted', req: {}, type: 'shell', fails: 'task_type' },
  { name: 'pinned to this device', req: { device_id: 'pi-1' }, fails: null },
  { name: 'pinned to another device', req: { device_id: 'pi-2' }, fails: 'device_id' },
  { name: 'role equal', req: { role: 'worker' }, fails: null },
  { name: 'role differs', req: { role: 'gpu-box' }, fails: 'role' },
  { name: 'role is case-sensitive', req: { role: 'Worker' }, fails: 'role' },
  { name: 'platform equal', req: { platform: 'linux' }, fails: null },
  { name: 'platform case-insensitive', req: { platform: 'Linux' }, fails: null },
  { name: 'platform differs', req: { platform: 'android' }, fails: 'platform' },
  { name: 'platform unknown', req: { platform: 'linux' }, dev: { platform: null }, fails: 'platform' },
  { name: 'arch equal', req: { arch: 'arm64' }, fails: null },
  { name: 'arch aarch64 ≡ arm64', req: { arch: 'aarch64' }, fails: null },
  { name: 'arch arm64 ≡ device aarch64', req: { arch: 'ARM64' }, dev: { arch: 'aarch64' }, fails: null },
  { name: 'arch x86_64 ≡ amd64', req: { arch: 'x86_64' }, dev: { arch: 'amd64' }, fails: null },
  { name: 'arch x64 ≡ x86_64', req: { arch: 'x64' }, dev: { arch: 'X86_64' }, fails: null },
  { name: 'arch arm (32-bit) ≠ arm64', req: { arch: 'arm' }, fails: 'arch' },
  { name: 'arch x64 ≠ arm64', req: { arch: 'x64' }, fails: 'arch' },
  { name: 'arch unknown', req: { arch: 'arm64' }, dev: { arch: null }, fails: 'arch' },
  { name: 'all tags present', req: { tags: ['camera', 'python'] }, fails: null },
  { name: 'empty tag list', req: { tags: [] }, fails: null },
  { name: 'one tag missing', req: { tags: ['python', 'cuda'] }, fails: 'tags' },
  { name: 'gpu wanted, has one', req: { gpu: true }, dev: { gpu: true }, fails: null },
  { name: 'gpu wanted, has none', req: { gpu: true }, fails: 'gpu' },
  { name: 'gpu wanted, unknown', req: { gpu: true }, dev: { gpu: null }, fails: 'gpu' },
  { name: 'no gpu wanted, has none', req: { gpu: false }, fails: null },
  { name: 'no gpu wanted, unknown', req: { gpu: false }, dev: { gpu: null }, fails: null },
  { name: 'no gpu wanted, has one', req: { gpu: false }, dev: { gpu: true }, fails: 'gpu' },
  { name: 'cpu cores equal to minimum', req: { min_cpu_cores: 4 }, fails: null },
  { name: 'cpu cores below minimum', req: { min_cpu_cores: 8 }, fails: 'min_cpu_cores' },
  { name: 'cpu cores unknown', req: { min_cpu_cores: 1 }, dev: { cpu_count: null }, fails: 'min_cpu_cores' },
  { name: 'memory equal to minimum', req: { min_memory_gb: 4 }, fails: null },
  { name: 'memory below minimum', req: { min_memory_gb: 4.5 }, fails: 'min_memory_gb' },
  { name: 'memory unknown', req: { min_memory_gb: 0.5 }, dev: { memory_total_gb: null }, fails: 'min_memory_gb' },
  { name: 'memory minimum 0 with unknown memory', req: { min_memory_gb: 0 }, dev: { memory_total_gb: null }, fails: 'min_memory_gb' },
  { name: 'storage above minimum', req: { min_storage_gb: 16 }, fails: null },
  { name: 'storage below minimum', req: { min_storage_gb: 64 }, fails: 'min_storage_gb' },
  { name: 'storage unknown', req: { min_storage_gb: 1 }, dev: { storage_total_gb: null }, fails: 'min_storage_gb' },
  { name: 'battery above minimum', req: { min_battery_percent: 50 }, dev: { battery_percent: 80 }, fails: null },
  { name: 'battery equal to minimum', req: { min_battery_percent: 50 }, dev: { battery_percent: 50 }, fails: null },
  { name: 'battery below minimum', req: { min_battery_percent: 50 }, dev: { battery_percent: 28 }, fails: 'min_battery_percent' },
  { name: 'no battery (mains) satisfies a battery minimum', req: { min_battery_percent: 100 }, dev: { battery_percent: null }, fails: null },
  { name: 'charging required, charging', req: { requires_charging: true }, dev: { battery_percent: 40, charging: true }, fails: null },
  { name: 'charging required, not charging', req: { requires_charging: true }, dev: { battery_percent: 90, charging: false }, fails: 'requires_charging' },
  { name: 'charging required, charging unknown', req: { requires_charging: true }, dev: { battery_percent: 90, charging: null }, fails: 'requires_charging' },
  { name: 'charging required, no battery (mains)', req: { requires_charging: true }, dev: { battery_percent: null, charging: null }, fails: null },
  { name: 'charging not required, not charging', req: { requires_charging: false }, dev: { battery_percent: 10, charging: false }, fails: null },
  {
    name: 'everything at once, all satisfied',
    req: { min_cpu_cores: 2, min_memory_gb: 2, min_storage_gb: 8, platform: 'LINUX', arch: 'aarch64', role: 'worker', tags: ['python'], gpu: false, device_id: 'pi-1', min_battery_percent: 20, requires_charging: true },
    dev: { battery_percent: 30, charging: true },
    fails: null,
  },
];

describe('matchDevice', () => {
  for (const c of CASES) {
    test(`${c.name} → ${c.fails ?? 'ok'}`, () => {
      const result = matchDevice(c.type ?? 'echo', c.req, device(c.dev));
      assert.deepEqual(result.ok ? null : result.key, c.fails);
    });
  }

  test('the table covers every requirement key, each both passing and failing', () => {
    const keys = ['min_cpu_cores', 'min_memory_gb', 'min_storage_gb', 'platform', 'arch', 'role', 'tags', 'gpu', 'device_id', 'min_battery_percent', 'requires_charging'];
    for (const key of keys) {
      assert.ok(CASES.some((c) => c.fails === key), `${key} never fails`);
      assert.ok(CASES.some((c) => c.fails === null && key in c.req), `${key} never passes`);
    }
  });

  test('reasons are short and say what the device has and what the task needs', () => {
    const reason = (req: TaskRequirements, dev: Partial<DeviceSnapshot> = {}, type = 'echo'): string => {
      const r = matchDevice(type, req, device(dev));
      return r.ok ? 'ok' : r.reason;
    };
    assert.equal(reason({ min_memory_gb: 8 }, { memory_total_gb: 2 }), 'memory 2 GB < 8 GB');
    assert.equal(reason({ min_memory_gb: 8 }, { memory_total_gb: 3.75 }), 'memory 3.8 GB < 8 GB');
    assert.equal(reason({ min_memory_gb: 8 }, { memory_total_gb: null }), 'memory unknown, needs ≥ 8 GB');
    assert.equal(reason({ min_cpu_cores: 8 }), 'CPU cores 4 < 8');
    assert.equal(reason({ min_storage_gb: 64 }), 'storage 32 GB < 64 GB');
    assert.equal(reason({ min_battery_percent: 50 }, { battery_percent: 28 }), 'battery 28% < 50%');
    assert.equal(reason({ requires_charging: true }, { battery_percent: 90, charging: false }), 'not charging');
    assert.equal(reason({ tags: ['cuda', 'python', 'ffmpeg'] }), 'missing tags cuda, ffmpeg');
    assert.equal(reason({ tags: ['cuda'] }), 'missing tag cuda');
    assert.equal(reason({ platform: 'android' }), 'platform linux, needs android');
    assert.equal(reason({ arch: 'x64' }, { arch: null }), 'arch unknown, needs x64');
    assert.equal(reason({ device_id: 'pi-9' }), 'not device pi-9');
    assert.equal(reason({}, {}, 'shell'), 'does not accept task type "shell"');
  });

  test('the first failing check is reported (task type before requirements)', () => {
    const r = matchDevice('shell', { min_memory_gb: 64 }, device());
    assert.equal(r.ok ? 'ok' : r.key, 'task_type');
  });

  test('ignores state, drain, pause and free slots', () => {
    const busy = device({ state: 'offline', connected: false, drained: true, paused: true, active_tasks: 2 });
    assert.equal(matchDevice('echo', { min_memory_gb: 1 }, busy).ok, true);
  });
});

describe('canonicalArch', () => {
  test('folds aliases and case', () => {
    assert.deepEqual(['aarch64', 'ARM64', 'x86_64', 'AMD64', 'x64', 'armv7l'].map(canonicalArch), ['arm64', 'arm64', 'x64', 'x64', 'x64', 'armv7l']);
  });
});

describe('isAvailable', () => {
  const cases: Array<[string, Partial<DeviceSnapshot>, boolean]> = [
    ['online, connected, idle', {}, true],
    ['one slot left', { active_tasks: 1 }, true],
    ['all slots used', { active_tasks: 2 }, false],
    ['no slots at all', { max_tasks: 0 }, false],
    ['suspect', { state: 'suspect' }, false],
    ['offline', { state: 'offline' }, false],
    ['not connected', { connected: false }, false],
    ['drained', { drained: true }, false],
    ['paused', { paused: true, pause_reason: 'battery 12%' }, false],
  ];
  for (const [name, over, expected] of cases) {
    test(`${name} → ${expected}`, () => assert.equal(isAvailable(device(over)), expected));
  }
});
