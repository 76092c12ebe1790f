import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Api, type Task } from '../helpers/api.js';
import { startMaster, startWorker, tempDir, type RunningMaster } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

// ------------------------------------------------------------ helpers

type Row = Record<string, unknown>;

interface Fetched {
  status: number;
  type: string;
  text: string;
}

async function get(base: string, path: string, accept?: string): Promise<Fetched> {
  const res = await fetch(`${base}${path}`, accept === undefined ? {} : { headers: { accept } });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

async function getJson<T>(base: string, path: string): Promise<T> {
  const res = await get(base, path);
  assert.equal(res.status, 200, `${path}: ${res.text}`);
  return JSON.parse(res.text) as T;
}

function withParam(path: string, param: string): string {
  if (param === '') return path;
  return `${path}${path.includes('?') ? '&' : '?'}${param}`;
}

/** RFC 4180: quoted cells may hold commas, doubled quotes and newlines. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(cell), (cell = '');
    else if (c === '\n') row.push(cell), rows.push(row), (row = []), (cell = '');
    else if (c !== '\r') cell += c;
  }
  assert.equal(quoted, false, 'CSV ends inside a quoted cell');
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows;
}

function parseTsv(text: string): string[][] {
  return text.replace(/\n$/, '').split('\n').map((line) => line.split('\t'));
}

function csvText(v: unknown): string {
  return v === null ? '' : String(v);
}

function tsvText(v: unknown): string {
  return v === null ? '' : String(v).replace(/[\t\r\n]/g, ' ');
}

interface Snapshot {
  rows: Row[];
  isObject: boolean;
  csv: string;
  tsv: string;
  text: string;
}

/**
 * All four formats of one table, taken between two identical JSON answers so
 * that every format shows the same moment (devices heartbeat meanwhile).
 */
async function snapshot(base: string, path: string): Promise<Snapshot> {
  return waitFor(async () => {
    const before = await get(base, withParam(path, 'format=json'));
    const [csv, tsv, text] = await Promise.all(['csv', 'tsv', 'text'].map((f) => get(base, withParam(path, `format=${f}`))));
    const after = await get(base, withParam(path, 'format=json'));
    if (before.text !== after.text) return null;
    assert.match(before.type, /^application\/json/);
    assert.match(csv!.type, /^text\/csv/);
    assert.match(tsv!.type, /^text\/tab-separated-values/);
    assert.match(text!.type, /^text\/plain/);
    const parsed = JSON.parse(before.text) as Row[] | Row;
    const isObject = !Array.isArray(parsed);
    return { rows: isObject ? [parsed as Row] : (parsed as Row[]), isObject, csv: csv!.text, tsv: tsv!.text, text: text!.text };
  }, 15_000, `a stable snapshot of ${path}`);
}

/** Same keys in every row and format, same row count, same values (json against csv and tsv). */
function assertFormatsAgree(path: string, snap: Snapshot): string[] {
  const keys = Object.keys(snap.rows[0]!);
  for (const row of snap.rows) assert.deepEqual(Object.keys(row), keys, `${path}: every json row has the same keys`);
  const csv = parseCsv(snap.csv);
  const tsv = parseTsv(snap.tsv);
  assert.deepEqual(csv[0], keys, `${path}: csv header = json keys`);
  assert.deepEqual(tsv[0], keys, `${path}: tsv header = json keys`);
  assert.equal(csv.length - 1, snap.rows.length, `${path}: csv row count`);
  assert.equal(tsv.length - 1, snap.rows.length, `${path}: tsv row count`);
  snap.rows.forEach((row, i) => {
    assert.deepEqual(csv[i + 1], keys.map((k) => csvText(row[k])), `${path}: csv row ${i}`);
    assert.deepEqual(tsv[i + 1], keys.map((k) => tsvText(row[k])), `${path}: tsv row ${i}`);
  });
  return keys;
}

/** Each column is left-aligned (cells start under the header) or right-aligned (cells end under it). */
function assertColumnsLineUp(path: string, text: string): void {
  const [header = '', ...lines] = text.trimEnd().split('\n');
  const columns = [...header.matchAll(/\S+/g)].map((m) => ({ start: m.index, end: m.index + m[0].length }));
  for (const { start, end } of columns.slice(1)) {
    // A line may end before the last column when its cell there is empty.
    const isLeft = lines.every((l) => l.length <= start || (l[start - 1] === ' ' && l[start] !== ' '));
    const isRight = lines.every((l) => l[end - 1] !== undefined && l[end - 1] !== ' ' && (l[end] === undefined || l[end] === ' '));
    assert.ok(isLeft || isRight, `${path}: column ${header.slice(start, end)} lines up\n${text}`);
  }
}

/** The `key: value` lines of /text/status, checked to line up. */
function parseStatusText(text: string): Array<[string, string]> {
  const lines = text.trimEnd().split('\n');
  const valueColumns = new Set(lines.map((l) => /^[a-z_]+: +/.exec(l)?.[0].length ?? -1));
  assert.equal(valueColumns.size, 1, `status values line up:\n${text}`);
  assert.ok(!valueColumns.has(-1), `every status line is key: value:\n${text}`);
  return lines.map((l) => {
    const [, key = '', value = ''] = /^([a-z_]+): +(.*)$/.exec(l) ?? [];
    return [key, value];
  });
}

interface ApiDevice {
  device_id: string;
  status: string;
  drained: boolean;
  active_tasks: number;
  tags: string[];
  role: string;
  cpu_count: number | null;
  memory_total_gb: number | null;
  [key: string]: unknown;
}

interface DevicePage {
  devices: ApiDevice[];
  count: number;
  total: number;
  next_after: string | null;
}

async function online(m: RunningMaster, ids: string[]): Promise<void> {
  await waitFor(async () => {
    const rows = await getJson<Array<{ device_id: string; status: string }>>(m.httpUrl, '/text/devices?format=json&status=online');
    return ids.every((id) => rows.some((r) => r.device_id === id));
  }, 20_000, `${ids.join(', ')} online`);
}

async function statusObject(m: RunningMaster): Promise<Record<string, string | number>> {
  return getJson(m.httpUrl, '/text/status?format=json');
}

const WORKERS = [
  { deviceId: 'laptop-1', role: 'compute', tags: ['x86'] },
  { deviceId: 'phone-1', role: 'mobile', tags: ['arm', 'battery'] },
  { deviceId: 'pi-1', role: 'pi', tags: ['arm', 'garage'] },
] as const;

async function cluster(t: TestContext, n: number): Promise<{ m: RunningMaster; api: Api; root: string }> {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master') });
  for (const w of WORKERS.slice(0, n)) startWorker(t, m, { dataDir: join(root, w.deviceId), deviceId: w.deviceId, role: w.role, tags: [...w.tags] });
  await online(m, WORKERS.slice(0, n).map((w) => w.deviceId));
  return { m, api: new Api(m.httpUrl, m.dataDir), root };
}

function unrunnable(priority: string): Record<string, unknown> {
  return { task_type: 'echo', payload: { message: 'never' }, priority, requirements: { tags: ['nonexistent'] } };
}

async function allSucceeded(api: Api, tasks: Task[]): Promise<Task[]> {
  return Promise.all(tasks.map((task) => api.waitForStatus(task.task_id, 'succeeded')));
}

// ------------------------------------------------------------ text tables

test('every text table answers text, json, csv and tsv with the same keys, rows and values', async (t) => {
  const { m, api } = await cluster(t, 2);
  await allSucceeded(api, await api.submitBatch([
    { task_type: 'echo', payload: { message: 'a' } },
    { task_type: 'echo', payload: { message: 'b' } },
  ]));
  // Wait reasons carry spaces, commas and parentheses: the csv quoting and tsv cells are exercised.
  await api.submitBatch([unrunnable('high'), unrunnable('low')]);
  await waitFor(async () => (await api.list('status=queued')).every((task) => task.wait_reason !== null), 10_000, 'wait reasons');

  const tables = ['/text/devices', '/text/tasks', '/text/logs?limit=50', '/text/status'];
  for (const path of tables) {
    const snap = await snapshot(m.httpUrl, path);
    assert.ok(snap.rows.length > 0, `${path} has rows`);
    const keys = assertFormatsAgree(path, snap);
    if (snap.isObject) {
      const lines = parseStatusText(snap.text);
      assert.deepEqual(lines.map(([k]) => k), keys, `${path}: text keys = json keys`);
      assert.deepEqual(lines.map(([, v]) => v), keys.map((k) => String(snap.rows[0]![k])), `${path}: text values = json values`);
      continue;
    }
    const [header = '', ...lines] = snap.text.trimEnd().split('\n');
    assert.equal(lines.length, snap.rows.length, `${path}: text row count`);
    // /text/devices folds drained, unstable, paused and pause_reason into STATUS for people.
    const folded = path.startsWith('/text/devices') ? 4 : 0;
    assert.equal(header.split(/\s+/).length, keys.length - folded, `${path}: text column count`);
    assert.deepEqual(lines.map((l) => l.split(/\s+/)[0]), snap.rows.map((r) => String(r[keys[0]!])), `${path}: first column`);
    assertColumnsLineUp(path, snap.text);
  }
  const devices = await snapshot(m.httpUrl, '/text/devices');
  assert.deepEqual(devices.rows.map((r) => r['device_id']), ['laptop-1', 'phone-1']);
  assert.ok(devices.rows.every((r) => r['drained'] === false && r['status'] === 'online'));
});

test('the Accept header picks the format when ?format is absent, and ?format wins over it', async (t) => {
  const { m } = await cluster(t, 1);
  for (const path of ['/text/devices', '/text/tasks', '/text/logs', '/text/status']) {
    const plain = await get(m.httpUrl, path);
    assert.match(plain.type, /^text\/plain/, `${path} defaults to text`);
    const json = await get(m.httpUrl, path, 'application/json');
    assert.match(json.type, /^application\/json/, `${path} Accept json`);
    assert.doesNotThrow(() => JSON.parse(json.text), `${path} answers JSON`);
    const csv = await get(m.httpUrl, path, 'text/csv');
    assert.match(csv.type, /^text\/csv/, `${path} Accept csv`);
    const tsv = await get(m.httpUrl, path, 'text/tab-separated-values');
    assert.match(tsv.type, /^text\/tab-separated-values/, `${path} Accept tsv`);
    assert.equal(csv.text.split('\n')[0], tsv.text.split('\n')[0]!.split('\t').join(','), `${path}: same header`);
    const forced = await get(m.httpUrl, withParam(path, 'format=csv'), 'application/json');
    assert.match(forced.type, /^text\/csv/, `${path}: ?format wins`);
  }
});

// ------------------------------------------------------------ filters

test('status, role, tag, device_id and limit each narrow the device lists', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master') });
  const procs = WORKERS.map((w) => startWorker(t, m, { dataDir: join(root, w.deviceId), deviceId: w.deviceId, role: w.role, tags: [...w.tags] }));
  await online(m, WORKERS.map((w) => w.deviceId));
  procs[0]!.kill('SIGKILL'); // laptop-1 goes offline
  await waitFor(async () => (await getJson<Row[]>(m.httpUrl, '/text/devices?format=json&status=offline')).length === 1, 10_000, 'laptop-1 offline');

  const cases: Array<[string, string[]]> = [
    ['', ['laptop-1', 'phone-1', 'pi-1']],
    ['status=online', ['phone-1', 'pi-1']],
    ['status=offline', ['laptop-1']],
    ['status=suspect', []],
    ['role=pi', ['pi-1']],
    ['tag=arm', ['phone-1', 'pi-1']],
    ['tag=arm,garage', ['pi-1']],
    ['tag=arm&tag=battery', ['phone-1']],
    ['tag=x86&status=online', []],
    ['device_id=phone-1', ['phone-1']],
    ['limit=2', ['laptop-1', 'phone-1']],
    ['tag=arm&limit=1', ['phone-1']],
  ];
  for (const [query, expected] of cases) {
    const text = await getJson<Row[]>(m.httpUrl, withParam('/text/devices?format=json', query));
    assert.deepEqual(text.map((r) => r['device_id']), expected, `/text/devices?${query}`);
    const page = await getJson<DevicePage>(m.httpUrl, withParam('/api/v1/devices', query));
    assert.deepEqual(page.devices.map((d) => d.device_id), expected, `/api/v1/devices?${query}`);
  }
});

test('status, device_id and limit narrow /text/tasks', async (t) => {
  const { m, api } = await cluster(t, 2);
  const done = await allSucceeded(api, await api.submitBatch([
    { task_type: 'echo', payload: { message: 'x' }, requirements: { device_id: 'laptop-1' } },
    { task_type: 'echo', payload: { message: 'y' }, requirements: { device_id: 'phone-1' } },
    { task_type: 'echo', payload: { message: 'z' }, requirements: { device_id: 'phone-1' } },
  ]));
  const [queued] = await api.submitBatch([unrunnable('normal')]);
  const ids = (rows: Row[]): string[] => rows.map((r) => String(r['task_id'])).sort();
  const tasks = (query: string): Promise<Row[]> => getJson<Row[]>(m.httpUrl, withParam('/text/tasks?format=json', query));
  assert.deepEqual(ids(await tasks('status=succeeded')), ids(done as unknown as Row[]));
  assert.deepEqual(ids(await tasks('status=queued')), [queued!.task_id]);
  assert.deepEqual(ids(await tasks('device_id=phone-1')), ids(done.filter((d) => d.device_id === 'phone-1') as unknown as Row[]));
  assert.equal((await tasks('limit=2')).length, 2);
  assert.equal((await tasks('')).length, 4);
});

test('bad filter values answer 400 RC_ERR_HTTP_BAD_REQUEST with a message', async (t) => {
  const { m } = await cluster(t, 1);
  const bad = [
    '/text/devices?status=sleeping', '/text/devices?limit=0', '/text/devices?limit=abc', '/text/devices?limit=1001',
    '/text/devices?limit=1.5', '/text/devices?tag=', '/text/devices?tag=arm,', '/text/devices?role=', '/text/devices?stauts=online',
    '/text/devices?format=xml', '/text/devices?status=online&status=offline',
    '/text/tasks?status=nope', '/text/tasks?limit=0', '/text/tasks?format=yaml', '/text/logs?format=yaml',
    '/text/status?format=yaml', '/text/status?verbose=1',
    '/api/v1/devices?limit=0', '/api/v1/devices?limit=1001', '/api/v1/devices?offset=-1', '/api/v1/devices?offset=1&after=pi-1',
    '/api/v1/devices?status=gone', '/api/v1/devices?device_id=', '/api/v1/devices?sort=name',
    '/api/v1/devices/laptop-1?limit=501', '/api/v1/devices/laptop-1?limit=0', '/api/v1/cluster/status?x=1',
  ];
  for (const path of bad) {
    const res = await get(m.httpUrl, path);
    assert.equal(res.status, 400, `${path}: ${res.text}`);
    const body = JSON.parse(res.text) as { code: string; error: string; message: string };
    assert.equal(body.code, 'RC_ERR_HTTP_BAD_REQUEST', path);
    assert.equal(body.error, 'Bad Request', path);
    assert.ok(body.message.length > 0, path);
  }
  const missing = await get(m.httpUrl, '/api/v1/devices/no-such-device');
  assert.equal(missing.status, 404);
  assert.equal((JSON.parse(missing.text) as { code: string }).code, 'RC_ERR_NOT_FOUND');
});

// ------------------------------------------------------------ JSON API

test('/api/v1/devices pages cover every device exactly once, by cursor and by offset', async (t) => {
  const { m } = await cluster(t, 3);
  const seen: string[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 10; pages++) {
    const path: string = `/api/v1/devices?limit=1${after === null ? '' : `&after=${after}`}`;
    const page: DevicePage = await getJson<DevicePage>(m.httpUrl, path);
    assert.equal(page.count, page.devices.length);
    assert.equal(page.total, 3);
    seen.push(...page.devices.map((d) => d.device_id));
    after = page.next_after;
    if (after === null) break;
    assert.equal(after, page.devices.at(-1)?.device_id, 'the cursor is the last id of the page');
  }
  assert.deepEqual(seen, ['laptop-1', 'phone-1', 'pi-1']);

  const byOffset: string[] = [];
  for (let offset = 0; offset < 4; offset++) {
    const page = await getJson<DevicePage>(m.httpUrl, `/api/v1/devices?limit=1&offset=${offset}`);
    byOffset.push(...page.devices.map((d) => d.device_id));
    assert.equal(page.next_after === null, offset >= 2, `next_after at offset ${offset}`);
  }
  assert.deepEqual(byOffset, seen);
  const all = await getJson<DevicePage>(m.httpUrl, '/api/v1/devices');
  assert.deepEqual(all.devices.map((d) => d.device_id), seen);
  assert.equal(all.next_after, null);
  // A cursor naming a device that does not exist still lands in order.
  const mid = await getJson<DevicePage>(m.httpUrl, '/api/v1/devices?after=mmm');
  assert.deepEqual(mid.devices.map((d) => d.device_id), ['phone-1', 'pi-1']);
});

test('/api/v1/devices/:id has the device object, recent heartbeats and events', async (t) => {
  const { m } = await cluster(t, 1);
  const detail = await waitFor(async () => {
    const d = await getJson<ApiDevice & { recent_heartbeats: Row[]; recent_events: Row[] }>(m.httpUrl, '/api/v1/devices/laptop-1');
    return d.recent_heartbeats.length >= 3 ? d : null;
  }, 15_000, 'three stored heartbeats');
  const deviceKeys = ['device_id', 'status', 'connected', 'role', 'hostname', 'platform', 'arch', 'tags', 'cpu_count', 'cpu_model',
    'memory_total_gb', 'storage_total_gb', 'gpu', 'max_tasks', 'task_types', 'ip_address', 'first_seen', 'last_seen', 'metrics'];
  for (const key of [...deviceKeys, 'drained', 'active_tasks']) assert.ok(key in detail, `has ${key}`);
  assert.equal(detail.device_id, 'laptop-1');
  assert.equal(detail.status, 'online');
  assert.equal(detail.connected, true);
  assert.equal(detail.drained, false);
  assert.equal(detail.active_tasks, 0);
  assert.deepEqual(detail.tags, ['x86']);
  const times = detail.recent_heartbeats.map((h) => Date.parse(String(h['timestamp'])));
  assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
  for (const h of detail.recent_heartbeats) assert.equal(typeof (h['metrics'] as Row)['cpu_usage'], 'number');
  assert.ok(detail.recent_events.some((e) => e['kind'] === 'connected' || e['kind'] === 'registered'), JSON.stringify(detail.recent_events));
  const two = await getJson<{ recent_heartbeats: Row[] }>(m.httpUrl, '/api/v1/devices/laptop-1?limit=2');
  assert.equal(two.recent_heartbeats.length, 2);
});

// ------------------------------------------------------------ drain

test('a drained device gets no new tasks while its running task finishes; undrained, it gets tasks again', async (t) => {
  const { m, api } = await cluster(t, 2);
  const [drainee, other] = ['laptop-1', 'phone-1'];
  const long = await api.submit({ task_type: 'sleep', payload: { seconds: 3 }, requirements: { device_id: drainee } });
  await api.waitForStatus(long.task_id, 'running');

  const anonymous = await api.request('POST', `/api/v1/devices/${drainee}/drain`, undefined, null);
  assert.equal(anonymous.status, 401);
  assert.equal((anonymous.body as { code: string }).code, 'RC_ERR_AUTH_REQUIRED');
  const wrong = await api.request('POST', `/api/v1/devices/${drainee}/drain`, undefined, 'not-the-token');
  assert.equal(wrong.status, 403);
  assert.equal((await getJson<ApiDevice>(m.httpUrl, `/api/v1/devices/${drainee}`)).drained, false, 'a refused drain changes nothing');
  const unknown = await api.request('POST', '/api/v1/devices/no-such-device/drain');
  assert.equal(unknown.status, 404);
  assert.equal((unknown.body as { code: string }).code, 'RC_ERR_NOT_FOUND');
  const badBody = await api.request('POST', `/api/v1/devices/${drainee}/drain`, { why: 'x' });
  assert.equal(badBody.status, 400);
  assert.equal((badBody.body as { code: string }).code, 'RC_ERR_HTTP_BAD_REQUEST');

  const drained = await api.request('POST', `/api/v1/devices/${drainee}/drain`, { reason: 'new SD card' });
  assert.equal(drained.status, 200);
  const view = drained.body as ApiDevice;
  assert.equal(view.device_id, drainee);
  assert.equal(view.drained, true);
  assert.equal(view.active_tasks, 1, 'the sleep task was still running when the drain landed');

  const unpinned = Array.from({ length: 10 }, (_, i) => ({ task_type: 'echo', payload: { message: `u${i}` } }));
  const pinnedOther = Array.from({ length: 3 }, () => ({ task_type: 'echo', payload: { message: 'p' }, requirements: { device_id: other } }));
  const batch = await api.submitBatch([...unpinned, ...pinnedOther]);
  const [pinnedDrainee] = await api.submitBatch([{ task_type: 'echo', payload: { message: 'wait' }, requirements: { device_id: drainee } }]);
  for (const task of await allSucceeded(api, batch)) assert.equal(task.device_id, other, `${task.task_id} avoided the drained device`);

  const finished = await api.waitForStatus(long.task_id, ['succeeded', 'failed', 'timed_out', 'cancelled']);
  assert.equal(finished.status, 'succeeded', 'the running task finished on the drained device');
  assert.equal(finished.device_id, drainee);
  assert.equal(finished.attempts, 1, 'it was never moved');
  const waiting = await api.task(pinnedDrainee!.task_id);
  assert.equal(waiting.status, 'queued');
  assert.match(waiting.wait_reason ?? '', /drained/);
  const events = (await getJson<{ recent_events: Row[] }>(m.httpUrl, `/api/v1/devices/${drainee}`)).recent_events;
  assert.deepEqual(events.find((e) => e['kind'] === 'drained')?.['detail'], { reason: 'new SD card' });
  const text = await get(m.httpUrl, `/text/devices?device_id=${drainee}`);
  assert.match(text.text.split('\n')[1] ?? '', /\bonline,drained\b/);

  const undrained = await api.request('POST', `/api/v1/devices/${drainee}/undrain`);
  assert.equal(undrained.status, 200);
  assert.equal((undrained.body as ApiDevice).drained, false);
  assert.equal((await api.waitForStatus(pinnedDrainee!.task_id, 'succeeded')).device_id, drainee);
  // With the other device drained, unpinned work can only land on the undrained one.
  assert.equal((await api.request('POST', `/api/v1/devices/${other}/drain`, {})).status, 200);
  const later = await api.submitBatch(unpinned);
  for (const task of await allSucceeded(api, later)) assert.equal(task.device_id, drainee, `${task.task_id} ran on the undrained device`);
});

test('drained survives a master restart (kill -9)', async (t) => {
  const root = tempDir(t);
  const dataDir = join(root, 'master');
  const first = await startMaster(t, { dataDir });
  startWorker(t, first, { dataDir: join(root, 'w'), deviceId: 'pi-1', role: 'pi' });
  await online(first, ['pi-1']);
  const api1 = new Api(first.httpUrl, dataDir);
  assert.equal((await api1.request('POST', '/api/v1/devices/pi-1/drain', { reason: 'restart test' })).status, 200);
  first.kill('SIGKILL');
  await first.exited;

  const second = await startMaster(t, { dataDir, tcpPort: first.tcpPort });
  const api = new Api(second.httpUrl, dataDir);
  assert.equal((await getJson<ApiDevice>(second.httpUrl, '/api/v1/devices/pi-1')).drained, true, 'drained right after the restart');
  await online(second, ['pi-1']);
  const task = await api.submit({ task_type: 'echo', payload: { message: 'after restart' } });
  const waiting = await waitFor(async () => {
    const now = await api.task(task.task_id);
    return now.wait_reason !== null ? now : null;
  }, 10_000, 'a wait reason');
  assert.equal(waiting.status, 'queued');
  assert.match(waiting.wait_reason ?? '', /drained/);
  assert.equal((await statusObject(second))['devices_drained'], 1);
  assert.match((await get(second.httpUrl, '/text/devices')).text, /pi-1\s+online,drained/);

  assert.equal((await api.request('POST', '/api/v1/devices/pi-1/undrain')).status, 200);
  assert.equal((await api.waitForStatus(task.task_id, 'succeeded')).device_id, 'pi-1');
});

// ------------------------------------------------------------ status

function dataDirSize(dir: string): number {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((sum, e) => sum + statSync(join(dir, e.name)).size, 0);
}

test('/text/status lines up and reflects devices, queue, running and finished tasks', async (t) => {
  const startedMs = Date.now();
  const { m, api } = await cluster(t, 2);
  const devices = (await getJson<DevicePage>(m.httpUrl, '/api/v1/devices')).devices;
  const text = parseStatusText((await get(m.httpUrl, '/text/status')).text);
  const figures = new Map(text);
  assert.equal(figures.get('devices_online'), '2');
  assert.equal(figures.get('devices_offline'), '0');
  assert.equal(figures.get('devices_drained'), '0');
  assert.equal(Number(figures.get('cpu_cores')), devices.reduce((n, d) => n + (d.cpu_count ?? 0), 0));
  const memory = devices.reduce((n, d) => n + (d.memory_total_gb ?? 0), 0);
  assert.ok(Math.abs(Number(figures.get('memory_gb')) - memory) < 0.011, `memory ${figures.get('memory_gb')} ≈ ${memory}`);

  const urgent = await api.submitBatch([unrunnable('urgent'), unrunnable('urgent'), unrunnable('urgent'), unrunnable('low'), unrunnable('low')]);
  await waitFor(async () => {
    const s = await statusObject(m);
    return s['queued_urgent'] === 3 && s['queued_low'] === 2 && s['queued_normal'] === 0 && s['queued_high'] === 0;
  }, 10_000, 'queue depth 3 urgent, 2 low');
  assert.equal((await api.request('POST', `/api/v1/tasks/${urgent[0]!.task_id}/cancel`)).status, 200);

  await allSucceeded(api, await api.submitBatch(Array.from({ length: 4 }, (_, i) => ({ task_type: 'echo', payload: { message: `s${i}` } }))));
  const failing = await api.submit({ task_type: 'exec', payload: { command: [process.execPath, '-e', 'process.exit(3)'] }, max_retries: 0 });
  await api.waitForStatus(failing.task_id, 'failed');
  const finished = await waitFor(async () => {
    const s = await statusObject(m);
    return s['succeeded_last_hour'] === 4 && s['failed_last_hour'] === 1 && s['cancelled_last_hour'] === 1 ? s : null;
  }, 10_000, 'finished counts 4 succeeded, 1 failed, 1 cancelled');
  assert.equal(finished['timed_out_last_hour'], 0);
  assert.equal(finished['queued_urgent'], 2);
  assert.equal(finished['tasks_running'], 0);

  const sleeper = await api.submit({ task_type: 'sleep', payload: { seconds: 5 } });
  await api.waitForStatus(sleeper.task_id, 'running');
  await waitFor(async () => (await statusObject(m))['tasks_running'] === 1, 5_000, 'one task running');

  const health = await getJson<{ version: string }>(m.httpUrl, '/health');
  const sizeBefore = dataDirSize(m.dataDir);
  const s = await statusObject(m);
  const sizeAfter = dataDirSize(m.dataDir);
  assert.equal(s['version'], health.version);
  assert.ok(Number.isInteger(s['uptime_s']) && Number(s['uptime_s']) <= (Date.now() - startedMs) / 1000 + 1, `uptime_s ${s['uptime_s']}`);
  assert.ok(Number(s['data_dir_bytes']) >= sizeBefore && Number(s['data_dir_bytes']) <= sizeAfter, `${s['data_dir_bytes']} within [${sizeBefore}, ${sizeAfter}]`);

  const nested = await getJson<{ devices: Row; queue: Row; tasks: Row; finished_last_hour: Row; version: string }>(m.httpUrl, '/api/v1/cluster/status');
  assert.deepEqual(nested.devices, { online: 2, suspect: 0, offline: 0, total: 2, drained: 0 });
  assert.deepEqual(nested.queue, { urgent: 2, high: 0, normal: 0, low: 2 });
  assert.equal(nested.tasks['running'], 1);
  assert.deepEqual(nested.finished_last_hour, { succeeded: 4, failed: 1, timed_out: 0, cancelled: 1 });
  assert.equal(nested.version, health.version);
});
