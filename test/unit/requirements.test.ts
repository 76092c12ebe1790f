import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RcError } from '../../src/common/errors.js';
import { parseRequirementFlag, REQUIREMENT_KEYS, validateRequirements } from '../../src/scheduler/requirements.js';

describe('REQUIREMENT_KEYS', () => {
  test('lists the eleven documented keys', () => {
    assert.deepEqual([...REQUIREMENT_KEYS].sort(), [
      'arch', 'device_id', 'gpu', 'min_battery_percent', 'min_cpu_cores', 'min_memory_gb',
      'min_storage_gb', 'platform', 'requires_charging', 'role', 'tags',
    ]);
  });
});

describe('validateRequirements', () => {
  const FULL = {
    min_cpu_cores: 2, min_memory_gb: 1.5, min_storage_gb: 0, platform: 'linux', arch: 'arm64', role: 'worker',
    tags: ['python', 'camera'], gpu: false, device_id: 'pi-1', min_battery_percent: 100, requires_charging: true,
  };

  test('accepts every key with a valid value and returns them', () => {
    const { requirements, problems } = validateRequirements(FULL);
    assert.deepEqual(problems, []);
    assert.deepEqual(requirements, FULL);
  });

  test('an empty object is valid', () => {
    assert.deepEqual(validateRequirements({}), { requirements: {}, problems: [] });
  });

  test('copies the tags array instead of sharing it', () => {
    const input = { tags: ['a'] };
    const { requirements } = validateRequirements(input);
    input.tags.push('b');
    assert.deepEqual(requirements.tags, ['a']);
  });

  test('an unknown key is a problem that names it and lists the valid keys', () => {
    const { requirements, problems } = validateRequirements({ min_ram_gb: 4, min_memory_gb: 4 });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /unknown requirement "min_ram_gb"/);
    for (const key of REQUIREMENT_KEYS) assert.ok(problems[0]?.includes(key), `lists ${key}`);
    assert.deepEqual(requirements, { min_memory_gb: 4 });
  });

  const BAD: Array<[string, unknown, RegExp]> = [
    ['min_cpu_cores', -1, /min_cpu_cores must be a finite number ≥ 0, got -1/],
    ['min_cpu_cores', '4', /min_cpu_cores must be a finite number ≥ 0, got "4"/],
    ['min_memory_gb', Number.POSITIVE_INFINITY, /min_memory_gb must be a finite number ≥ 0, got Infinity/],
    ['min_memory_gb', Number.NaN, /min_memory_gb must be a finite number/],
    ['min_storage_gb', null, /min_storage_gb must be a finite number ≥ 0, got null/],
    ['min_battery_percent', 101, /min_battery_percent must be a number from 0 to 100, got 101/],
    ['min_battery_percent', -0.5, /min_battery_percent must be a number from 0 to 100/],
    ['platform', '', /platform must be a non-empty string of at most 128 characters/],
    ['arch', 64, /arch must be a non-empty string/],
    ['role', 'x'.repeat(129), /role must be a non-empty string of at most 128/],
    ['device_id', { id: 'pi' }, /device_id must be a non-empty string.*got an object/],
    ['tags', 'python', /tags must be an array of at most 32 non-empty strings/],
    ['tags', ['python', ''], /tags must be an array.*got \["python",""\]/],
    ['tags', ['python', 3], /tags must be an array/],
    ['tags', Array.from({ length: 33 }, (_, i) => `t${i}`), /tags must be an array of at most 32/],
    ['gpu', 'true', /gpu must be a boolean \(true or false\), got "true"/],
    ['requires_charging', 1, /requires_charging must be a boolean/],
  ];
  for (const [key, value, expected] of BAD) {
    test(`${key} = ${JSON.stringify(value) ?? String(value)} is a problem naming the key and the expected type`, () => {
      const { requirements, problems } = validateRequirements({ [key]: value });
      assert.equal(problems.length, 1);
      assert.match(problems[0] ?? '', expected);
      assert.equal(key in requirements, false);
    });
  }

  test('boundary values are accepted', () => {
    const ok = { min_battery_percent: 0, min_cpu_cores: 0, role: 'x'.repeat(128), tags: Array.from({ length: 32 }, (_, i) => `t${i}`) };
    assert.deepEqual(validateRequirements(ok).problems, []);
  });

  test('lists every problem at once', () => {
    const { problems } = validateRequirements({ gpu: 'yes', min_memory_gb: -2, colour: 'red' });
    assert.equal(problems.length, 3);
  });

  test('a value that is not an object is one problem', () => {
    for (const value of [null, [], 'min_memory_gb=4', 4]) {
      const { requirements, problems } = validateRequirements(value);
      assert.deepEqual(requirements, {});
      assert.equal(problems.length, 1);
      assert.match(problems[0] ?? '', /^requirements must be an object/);
    }
  });
});

describe('parseRequirementFlag', () => {
  const GOOD: Array<[string, string, unknown]> = [
    ['min_memory_gb=4', 'min_memory_gb', 4],
    ['min_cpu_cores=2', 'min_cpu_cores', 2],
    ['min_storage_gb=0.5', 'min_storage_gb', 0.5],
    ['min_battery_percent=50', 'min_battery_percent', 50],
    ['gpu=true', 'gpu', true],
    ['gpu=FALSE', 'gpu', false],
    ['requires_charging=true', 'requires_charging', true],
    ['tags=python,camera', 'tags', ['python', 'camera']],
    ['tags= python , camera ', 'tags', ['python', 'camera']],
    ['tags=solo', 'tags', ['solo']],
    ['platform=linux', 'platform', 'linux'],
    ['arch=aarch64', 'arch', 'aarch64'],
    ['role=worker', 'role', 'worker'],
    ['device_id=pi-1', 'device_id', 'pi-1'],
    ['device_id=a=b', 'device_id', 'a=b'],
  ];
  for (const [text, key, value] of GOOD) {
    test(`${text} → ${key} = ${JSON.stringify(value)}`, () => {
      assert.deepEqual(parseRequirementFlag(text), { key, value });
    });
  }

  const BAD: Array<[string, RegExp]> = [
    ['min_memory_gb', /must look like key=value/],
    ['=4', /must look like key=value/],
    ['min_ram=4', /unknown requirement "min_ram"; valid keys: min_cpu_cores/],
    ['min_memory_gb=', /min_memory_gb: the value is empty/],
    ['min_memory_gb=four', /min_memory_gb: "four" is not a number ≥ 0/],
    ['min_memory_gb=-1', /min_memory_gb: "-1" is not a number ≥ 0/],
    ['min_memory_gb=0x10', /is not a number/],
    ['min_battery_percent=150', /min_battery_percent must be a number from 0 to 100, got 150/],
    ['gpu=yes', /gpu: "yes" is not true or false/],
    ['tags=a,,b', /tags must be an array/],
    ['role=' + 'r'.repeat(129), /role must be a non-empty string of at most 128/],
  ];
  for (const [text, expected] of BAD) {
    test(`${text.slice(0, 30)} is rejected with a clear message`, () => {
      assert.throws(() => parseRequirementFlag(text), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.ok(err instanceof RcError);
        assert.equal(err.code, 'RC_ERR_TASK_REQUIREMENTS');
        assert.match(err.message, expected);
        return true;
      });
    });
  }

  test('a parsed flag always validates', () => {
    for (const [text] of GOOD) {
      const { key, value } = parseRequirementFlag(text);
      assert.deepEqual(validateRequirements({ [key]: value }).problems, [], text);
    }
  });
});
