import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { flattenCapabilities, normalizeMetrics, normalizeProfile, protocolMajor } from '../../src/master/normalize.js';
import type { RegisterData } from '../../src/protocol/types.js';

/** What the original Python worker sends: hardware at the top level, capabilities by category. */
function legacyRegister(): RegisterData {
  return {
    device_id: 'android-worker-01',
    role: 'mobile',
    hostname: 'localhost',
    platform: 'android',
    cpu_count: 8,
    memory_total_gb: 3.6,
    storage_total_gb: 64,
    capabilities: { computational: ['light_computation', 'data_processing'], services: ['http_proxy'] },
    architecture: 'aarch64',
    python_version: '3.11.6',
  };
}

function nestedRegister(): RegisterData {
  return {
    protocol_version: '1.0',
    device_id: 'android-worker-01',
    role: 'mobile',
    hostname: 'localhost',
    platform: 'android',
    arch: 'arm64',
    hardware: { cpu_count: 8, memory_total_gb: 3.6, storage_total_gb: 64, cpu_model: 'Cortex-A53', gpu: false },
    capabilities: ['light_computation', 'data_processing', 'http_proxy'],
    task_types: ['shell'],
    max_tasks: 2,
    node_version: 'v20.11.0',
  };
}

describe('normalizeProfile', () => {
  test('legacy top-level hardware and nested hardware give the same numbers', () => {
    const legacy = normalizeProfile(legacyRegister());
    const nested = normalizeProfile(nestedRegister());
    for (const key of ['cpu_count', 'memory_total_gb', 'storage_total_gb', 'hostname', 'role', 'platform'] as const) {
      assert.equal(legacy[key], nested[key], key);
    }
    assert.equal(legacy.cpu_count, 8);
    assert.equal(legacy.memory_total_gb, 3.6);
    assert.equal(legacy.storage_total_gb, 64);
    assert.equal(legacy.hostname, 'localhost');
  });

  test('a legacy register has no protocol version and default task settings', () => {
    const p = normalizeProfile(legacyRegister());
    assert.equal(p.protocol_version, null);
    assert.equal(p.max_tasks, 1);
    assert.deepEqual(p.task_types, []);
    assert.deepEqual(p.tags, []);
    assert.equal(p.arch, null);
    assert.equal(p.cpu_model, null);
    assert.equal(p.gpu, null);
  });

  test('our register keeps its version, task settings and hardware details', () => {
    const p = normalizeProfile(nestedRegister());
    assert.equal(p.protocol_version, '1.0');
    assert.equal(p.max_tasks, 2);
    assert.deepEqual(p.task_types, ['shell']);
    assert.equal(p.arch, 'arm64');
    assert.equal(p.cpu_model, 'Cortex-A53');
    assert.equal(p.gpu, false);
    assert.equal(p.node_version, 'v20.11.0');
  });

  test('a numeric protocol_version becomes a string', () => {
    assert.equal(normalizeProfile({ protocol_version: 1 }).protocol_version, '1');
  });

  test('both shapes store the same flattened capabilities in extra', () => {
    const expected = ['light_computation', 'data_processing', 'http_proxy'];
    assert.deepEqual(normalizeProfile(legacyRegister()).extra['capabilities'], expected);
    assert.deepEqual(normalizeProfile(nestedRegister()).extra['capabilities'], expected);
  });

  test('unknown legacy fields are kept in extra and known fields are not duplicated there', () => {
    const extra = normalizeProfile(legacyRegister()).extra;
    assert.equal(extra['architecture'], 'aarch64');
    assert.equal(extra['python_version'], '3.11.6');
    assert.equal('cpu_count' in extra, false);
    assert.equal('hostname' in extra, false);
  });

  test('nested hardware wins over top-level values when both are present', () => {
    const p = normalizeProfile({ cpu_count: 2, hardware: { cpu_count: 4 } });
    assert.equal(p.cpu_count, 4);
  });

  test('an empty register gives nulls and the worker role', () => {
    const p = normalizeProfile({});
    assert.equal(p.role, 'worker');
    assert.equal(p.cpu_count, null);
    assert.equal(p.memory_total_gb, null);
    assert.equal(p.storage_total_gb, null);
    assert.equal(p.hostname, null);
  });
});

describe('flattenCapabilities', () => {
  test('keeps a list, dropping duplicates in first-seen order', () => {
    assert.deepEqual(flattenCapabilities(['a', 'b', 'a', 'c', 'b']), ['a', 'b', 'c']);
  });

  test('flattens the legacy object of lists, dropping duplicates across categories', () => {
    assert.deepEqual(
      flattenCapabilities({ computational: ['cpu', 'gpu'], services: ['http', 'cpu'], sensors: [] }),
      ['cpu', 'gpu', 'http'],
    );
  });

  test('empty inputs give an empty list', () => {
    assert.deepEqual(flattenCapabilities([]), []);
    assert.deepEqual(flattenCapabilities({}), []);
  });
});

describe('normalizeMetrics', () => {
  test('maps legacy storage_usage to disk_usage', () => {
    const out = normalizeMetrics({ cpu_usage: 10, storage_usage: 55.5 });
    assert.deepEqual(out, { cpu_usage: 10, disk_usage: 55.5 });
  });

  test('does not overwrite an explicit disk_usage', () => {
    const out = normalizeMetrics({ disk_usage: 40, storage_usage: 55.5 });
    assert.equal(out['disk_usage'], 40);
    assert.equal('storage_usage' in out, false);
  });

  test('leaves the caller object untouched', () => {
    const input = { storage_usage: 20 };
    normalizeMetrics(input);
    assert.deepEqual(input, { storage_usage: 20 });
  });

  test('missing metrics give an empty object', () => {
    assert.deepEqual(normalizeMetrics(undefined), {});
  });
});

describe('protocolMajor', () => {
  const cases: Array<[string | number | undefined, number]> = [
    ['1.0', 1],
    ['1', 1],
    ['10.2.3', 10],
    [2, 2],
    [undefined, 0],
    ['garbage', 0],
    ['', 0],
  ];
  for (const [version, major] of cases) {
    test(`reads major ${major} from ${JSON.stringify(version)}`, () => {
      assert.equal(protocolMajor(version), major);
    });
  }
});
