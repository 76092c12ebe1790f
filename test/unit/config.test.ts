import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MASTER_DEFAULTS, parseJoinAddress, resolveMasterConfig, resolveWorkerConfig, workerDefaults,
  type ConfigSources,
} from '../../src/common/config.js';
import { MASTER_SOURCES, WORKER_SOURCES } from '../../src/common/config-schema.js';
import { ConfigError } from '../../src/common/errors.js';

function tempConfig(t: TestContext, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'rc-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'config.json');
  writeFileSync(path, content);
  return path;
}

function sources(partial: Partial<ConfigSources> = {}): ConfigSources {
  return { flags: {}, env: {}, ...partial };
}

/** Runs `fn`, which must throw a ConfigError, and returns its problems. */
function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'RC_ERR_CONFIG');
    return err.problems;
  }
  return assert.fail('expected a ConfigError, but nothing was thrown');
}

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    assert.notEqual(parent, dir, 'no package.json above the test file');
    dir = parent;
  }
  return dir;
}

// ---------------------------------------------------------------- precedence

test('each layer overrides the one below it: default < file < env < flag', (t) => {
  const file = tempConfig(t, JSON.stringify({ port: 9001 }));
  assert.equal(resolveMasterConfig(sources()).port, 8080);
  assert.equal(resolveMasterConfig(sources({ configPath: file })).port, 9001);
  assert.equal(resolveMasterConfig(sources({ configPath: file, env: { RC_PORT: '9002' } })).port, 9002);
  const all = resolveMasterConfig(sources({ configPath: file, env: { RC_PORT: '9002' }, flags: { port: '9003' } }));
  assert.equal(all.port, 9003);
});

test('layers merge per key, so a flag for one key keeps the file value of another', (t) => {
  const file = tempConfig(t, JSON.stringify({ max_tasks: 8, role: 'gpu' }));
  const config = resolveWorkerConfig(sources({ configPath: file, env: { RC_ROLE: 'phone' }, flags: { maxTasks: '4' } }));
  assert.equal(config.max_tasks, 4);
  assert.equal(config.role, 'phone');
  assert.equal(config.log_level, 'info');
});

test('an empty environment variable counts as not set', () => {
  const config = resolveMasterConfig(sources({ env: { RC_PORT: '', RC_HOST: '', RC_JOIN_TOKEN: '' } }));
  assert.equal(config.port, 8080);
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.join_token, null);
});

test('the worker token comes from RC_JOIN_TOKEN, the same variable as the master join token', () => {
  const env = { RC_JOIN_TOKEN: 'secret-123' };
  assert.equal(resolveWorkerConfig(sources({ env })).token, 'secret-123');
  assert.equal(resolveMasterConfig(sources({ env })).join_token, 'secret-123');
});

// ---------------------------------------------------------------- conversion

test('env values convert by type: integer, number, boolean, string list', () => {
  const master = resolveMasterConfig(sources({
    env: { RC_PORT: ' 0 ', RC_HEARTBEAT_INTERVAL: '0.5', RC_OFFLINE_AFTER: '2.5', RC_INSECURE: 'YES', RC_LOG_LEVEL: 'debug' },
  }));
  assert.equal(master.port, 0);
  assert.equal(master.heartbeat_interval_s, 0.5);
  assert.equal(master.offline_after_s, 2.5);
  assert.equal(master.insecure, true);
  assert.equal(master.log_level, 'debug');
  const worker = resolveWorkerConfig(sources({ env: { RC_TAGS: ' gpu, ,arm64,, ', RC_BACKOFF_BASE: '1e-1' } }));
  assert.deepEqual(worker.tags, ['gpu', 'arm64']);
  assert.equal(worker.backoff_base_s, 0.1);
});

test('every boolean spelling converts', () => {
  const cases: [string, boolean][] = [['1', true], ['true', true], ['yes', true], ['0', false], ['False', false], ['no', false]];
  for (const [text, expected] of cases) {
    assert.equal(resolveMasterConfig(sources({ env: { RC_INSECURE: text } })).insecure, expected, text);
  }
});

test('flags convert from strings, switches arrive as booleans, and unrelated flag keys are ignored', () => {
  const config = resolveMasterConfig(sources({
    flags: { config: undefined, verbose: true, insecure: true, httpPort: '5050', maxLineBytes: '2048', apiToken: 'api-token-1' },
  }));
  assert.equal(config.insecure, true);
  assert.equal(config.http_port, 5050);
  assert.equal(config.max_line_bytes, 2048);
  assert.equal(config.api_token, 'api-token-1');
  const off = resolveMasterConfig(sources({ env: { RC_INSECURE: '1' }, flags: { insecure: false } }));
  assert.equal(off.insecure, false);
});

test('values that do not convert are reported with their source', () => {
  const problems = problemsOf(() => resolveMasterConfig(sources({
    env: { RC_PORT: 'abc', RC_INSECURE: 'maybe', RC_MAX_LINE_BYTES: '1e4' },
    flags: { heartbeatInterval: 'fast', httpPort: true },
  })));
  assert.deepEqual([...problems].sort(), [
    'env RC_INSECURE: "maybe" is not a boolean (use 1/0, true/false or yes/no)',
    'env RC_MAX_LINE_BYTES: "1e4" is not an integer',
    'env RC_PORT: "abc" is not an integer',
    'flag --heartbeat-interval: "fast" is not a number',
    'flag --http-port: needs a value',
  ]);
});

// ---------------------------------------------------------------- validation

test('a range violation names the flag and the limit', () => {
  const problems = problemsOf(() => resolveMasterConfig(sources({ flags: { port: '70000' } })));
  assert.deepEqual(problems, ['flag --port: 70000 must be <= 65535']);
});

test('every violation in a file is listed, each naming the file and its key', (t) => {
  const file = tempConfig(t, JSON.stringify({ port: 'x', log_level: 'loud', heartbeat_retention_s: 10 }));
  const problems = problemsOf(() => resolveMasterConfig(sources({ configPath: file })));
  assert.equal(problems.length, 3, problems.join('\n'));
  for (const key of ['port', 'log_level', 'heartbeat_retention_s']) {
    assert.ok(problems.some((p) => p.startsWith(`config file ${file}: key "${key}"`)), `${key} missing in:\n${problems.join('\n')}`);
  }
  assert.ok(problems.some((p) => p.includes('must be one of fatal, error, warn, info, debug, trace, silent')));
});

test('an unknown key in the file is named, with a suggestion', (t) => {
  const file = tempConfig(t, JSON.stringify({ hearbeat_interval_s: 5 }));
  const problems = problemsOf(() => resolveMasterConfig(sources({ configPath: file })));
  assert.deepEqual(problems, [
    `config file ${file}: key "hearbeat_interval_s" is not a known setting (did you mean "heartbeat_interval_s"?)`,
  ]);
});

test('a "__proto__" key in the file is an unknown setting, not a prototype change', (t) => {
  const file = tempConfig(t, '{"__proto__": {"port": 1}}');
  const problems = problemsOf(() => resolveMasterConfig(sources({ configPath: file })));
  assert.deepEqual(problems, [`config file ${file}: key "__proto__" is not a known setting`]);
});

test('file values are typed JSON and are not converted from text', (t) => {
  const file = tempConfig(t, JSON.stringify({ port: '8080', insecure: 'yes' }));
  const problems = problemsOf(() => resolveMasterConfig(sources({ configPath: file })));
  assert.deepEqual(problems, [
    `config file ${file}: key "port": "8080" must be of type integer`,
    `config file ${file}: key "insecure": "yes" must be of type boolean`,
  ]);
});

test('a file that is not valid JSON is named with the parse error', (t) => {
  const file = tempConfig(t, '{ "port": 80, }');
  const problems = problemsOf(() => resolveMasterConfig(sources({ configPath: file })));
  assert.equal(problems.length, 1);
  assert.match(problems[0] ?? '', /^config file .*config\.json: is not valid JSON \(.+\)$/);
  assert.ok(problems[0]?.includes(file));
});

test('a missing config file is a ConfigError naming the path', () => {
  const missing = join(tmpdir(), 'rc-config-does-not-exist', 'master.json');
  assert.deepEqual(problemsOf(() => resolveMasterConfig(sources({ configPath: missing }))), [
    `config file ${missing}: does not exist`,
  ]);
});

test('a config file holding an array is refused', (t) => {
  const file = tempConfig(t, '[1, 2]');
  assert.deepEqual(problemsOf(() => resolveMasterConfig(sources({ configPath: file }))), [
    `config file ${file}: must hold a JSON object, not an array`,
  ]);
});

test('file, env and flag problems are reported together', (t) => {
  const file = tempConfig(t, JSON.stringify({ colour: 'red' }));
  const problems = problemsOf(() => resolveMasterConfig(sources({ configPath: file, env: { RC_PORT: 'abc' }, flags: { lostAfter: '-1' } })));
  assert.equal(problems.length, 3, problems.join('\n'));
  assert.ok(problems.includes('flag --lost-after: -1 must be > 0'), problems.join('\n'));
});

test('token values never appear in error messages', () => {
  const problems = problemsOf(() => resolveMasterConfig(sources({ env: { RC_API_TOKEN: 'short' } })));
  assert.equal(problems.length, 1);
  assert.match(problems[0] ?? '', /^env RC_API_TOKEN: <secret of 5 chars> must NOT have fewer than 8 characters$/);
  assert.ok(!problems[0]?.includes('short'));
});

test('worker role, tags and device id patterns are enforced per item', () => {
  const problems = problemsOf(() => resolveWorkerConfig(sources({
    flags: { role: 'Big Phone', tags: 'gpu,ARM', deviceId: '-bad' },
  })));
  assert.equal(problems.length, 3, problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('flag --role: "Big Phone" must match pattern')));
  assert.ok(problems.some((p) => p.startsWith('flag --tags: item 1 "ARM" must match pattern')));
  assert.ok(problems.some((p) => p.startsWith('flag --device-id: "-bad" must match pattern')));
});

test('more than 32 tags or a repeated tag is refused', () => {
  const many = Array.from({ length: 33 }, (_unused, i) => `t${i}`).join(',');
  assert.equal(problemsOf(() => resolveWorkerConfig(sources({ env: { RC_TAGS: many } }))).length, 1);
  assert.deepEqual(problemsOf(() => resolveWorkerConfig(sources({ env: { RC_TAGS: 'a,b,a' } }))), [
    'env RC_TAGS: ["a","b","a"] must NOT repeat an item',
  ]);
});

// ---------------------------------------------------------------- cross-field

test('offline_after_s must exceed twice the heartbeat interval', () => {
  const problems = problemsOf(() => resolveMasterConfig(sources({ flags: { heartbeatInterval: '30' } })));
  assert.deepEqual(problems, [
    'offline_after_s must be greater than 2 × heartbeat_interval_s, but 60 (default) <= 2 × 30 (flag --heartbeat-interval)',
  ]);
  const ok = resolveMasterConfig(sources({ flags: { heartbeatInterval: '29.5' } }));
  assert.equal(ok.heartbeat_interval_s, 29.5);
});

test('lost_after_s must exceed offline_after_s', () => {
  const problems = problemsOf(() => resolveMasterConfig(sources({ env: { RC_LOST_AFTER: '60' } })));
  assert.deepEqual(problems, ['lost_after_s must be greater than offline_after_s, but 60 (env RC_LOST_AFTER) <= 60 (default)']);
});

test('backoff_max_s must be at least backoff_base_s', (t) => {
  const file = tempConfig(t, JSON.stringify({ backoff_base_s: 5 }));
  const problems = problemsOf(() => resolveWorkerConfig(sources({ configPath: file, flags: { backoffMax: '2' } })));
  assert.deepEqual(problems, [
    `backoff_max_s must be at least backoff_base_s, but 2 (flag --backoff-max) < 5 (config file ${file})`,
  ]);
  assert.equal(resolveWorkerConfig(sources({ flags: { backoffBase: '5', backoffMax: '5' } })).backoff_max_s, 5);
});

test('a cross-field check is skipped when one side already has a problem', () => {
  const problems = problemsOf(() => resolveMasterConfig(sources({ env: { RC_HEARTBEAT_INTERVAL: '9999' } })));
  assert.deepEqual(problems, ['env RC_HEARTBEAT_INTERVAL: 9999 must be <= 3600']);
});

test('the worker join address is checked with parseJoinAddress', () => {
  assert.deepEqual(problemsOf(() => resolveWorkerConfig(sources({ flags: { join: 'nas:abc' } }))), [
    'flag --join: "nas:abc" is not a valid address (port "abc" is not an integer)',
  ]);
  assert.equal(resolveWorkerConfig(sources({ env: { RC_JOIN: '[::1]:9000' } })).join, '[::1]:9000');
});

// ---------------------------------------------------------------- parseJoinAddress

test('parseJoinAddress accepts host, host:port and bracketed IPv6', () => {
  assert.deepEqual(parseJoinAddress('nas'), { host: 'nas', port: 8080 });
  assert.deepEqual(parseJoinAddress('nas:9000'), { host: 'nas', port: 9000 });
  assert.deepEqual(parseJoinAddress('10.0.0.2:80'), { host: '10.0.0.2', port: 80 });
  assert.deepEqual(parseJoinAddress('[::1]:8080'), { host: '::1', port: 8080 });
  assert.deepEqual(parseJoinAddress('[fe80::1]'), { host: 'fe80::1', port: 8080 });
  assert.deepEqual(parseJoinAddress('nas.local:65535'), { host: 'nas.local', port: 65535 });
});

test('parseJoinAddress refuses malformed addresses with a ConfigError', () => {
  const cases: [string, RegExp][] = [
    ['nas:abc', /port "abc" is not an integer/],
    ['nas:70000', /port 70000 must be 1\.\.65535/],
    ['nas:0', /port 0 must be 1\.\.65535/],
    ['nas:', /port "" is not an integer/],
    ['::1', /IPv6 address must be in brackets/],
    ['[nas]:80', /"nas" is not an IPv6 address/],
    ['[::1', /write an IPv6 address as \[addr\]/],
    [':9000', /host "" is not a host name/],
    ['', /host "" is not a host name/],
    ['tcp://nas:9000', /without a scheme/],
  ];
  for (const [value, expected] of cases) {
    const problems = problemsOf(() => parseJoinAddress(value));
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', expected, value);
    assert.ok(problems[0]?.includes(JSON.stringify(value)), value);
  }
});

// ---------------------------------------------------------------- results

test('resolved configs and defaults are frozen, including lists', () => {
  const master = resolveMasterConfig(sources());
  assert.ok(Object.isFrozen(master));
  assert.throws(() => { (master as { port: number }).port = 1; }, TypeError);
  const worker = resolveWorkerConfig(sources({ flags: { tags: 'a,b' } }));
  assert.ok(Object.isFrozen(worker));
  assert.throws(() => { worker.tags.push('c'); }, TypeError);
  assert.ok(Object.isFrozen(MASTER_DEFAULTS));
  assert.ok(Object.isFrozen(workerDefaults('/home/pi')));
});

test('the worker data dir defaults under the home dir, and "~" expands to it', () => {
  assert.equal(workerDefaults('/home/pi').data_dir, join('/home/pi', '.retire-cluster'));
  assert.equal(resolveWorkerConfig(sources()).data_dir, join(homedir(), '.retire-cluster'));
  assert.equal(resolveWorkerConfig(sources({ flags: { dataDir: '~/rc' } })).data_dir, join(homedir(), 'rc'));
  assert.equal(resolveMasterConfig(sources({ env: { RC_DATA_DIR: 'rel/dir' } })).data_dir, 'rel/dir');
});

test('the example config files load cleanly and hold every default', () => {
  const root = findRepoRoot();
  const masterPath = join(root, 'config', 'master.example.json');
  const workerPath = join(root, 'config', 'worker.example.json');
  assert.deepEqual(resolveMasterConfig(sources({ configPath: masterPath })), MASTER_DEFAULTS);
  assert.deepEqual(resolveWorkerConfig(sources({ configPath: workerPath })), workerDefaults(homedir()));
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(masterPath, 'utf8')) as object), Object.keys(MASTER_DEFAULTS));
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(workerPath, 'utf8')) as object), Object.keys(workerDefaults('/h')));
});

test('config/README.md documents every key and environment variable', () => {
  const readme = readFileSync(join(findRepoRoot(), 'config', 'README.md'), 'utf8');
  for (const [key, source] of [...Object.entries(MASTER_SOURCES), ...Object.entries(WORKER_SOURCES)]) {
    assert.ok(readme.includes(`| \`${key}\` |`), `README misses key ${key}`);
    assert.ok(readme.includes(`\`${source.env}\``), `README misses env ${source.env}`);
    if (source.flag !== undefined) assert.ok(readme.includes(`\`--${source.flag}`), `README misses flag --${source.flag}`);
  }
});
