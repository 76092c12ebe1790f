import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Api } from '../helpers/api.js';
import { startMaster, startWorker, tempDir } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { WireClient } from '../helpers/wire-client.js';

// ------------------------------------------------------------ a strict-enough Prometheus text-format (0.0.4) parser

type FamilyType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  family: string;
}

interface Exposition {
  /** type null: HELP seen, no TYPE line (yet). */
  families: Map<string, { type: FamilyType | null; help: string | null }>;
  samples: Sample[];
  /** The HELP and TYPE lines in order: the shape of the exposition. */
  metaLines: string[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*';
const TYPES = new Set<FamilyType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, where: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  assert.match(text, /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/, `${where}: bad value "${text}"`);
  return Number(text);
}

function unescapeLabel(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = new RegExp(`\\s*(${LABEL_NAME})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"\\s*(,|$)`, 'y');
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    assert.ok(m, `${where}: bad label set at "${text.slice(pos)}"`);
    assert.ok(!(m[1]! in labels), `${where}: label ${m[1]} twice`);
    labels[m[1]!] = unescapeLabel(m[2]!);
    pos = re.lastIndex;
  }
  return labels;
}

/** The family a sample name belongs to: itself, or a histogram/summary base for _bucket/_sum/_count. */
function familyOf(name: string, families: Exposition['families']): string | null {
  if (families.get(name)?.type) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const type = families.get(base)?.type;
    if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return base;
  }
  return null;
}

function parseExposition(text: string): Exposition {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const families: Exposition['families'] = new Map();
  const samples: Sample[] = [];
  const metaLines: string[] = [];
  const seen = new Set<string>();
  const finished = new Set<string>();
  let current: string | null = null;
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, i) => {
    const where = `line ${i + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`).exec(line);
      if (!m) return; // other comments are allowed and ignored
      metaLines.push(line);
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      const fam = families.get(name) ?? { type: null, help: null };
      if (kind === 'TYPE') {
        assert.ok(TYPES.has(rest as FamilyType), `${where}: unknown type ${rest}`);
        assert.equal(fam.type, null, `${where}: TYPE for ${name} given twice`);
        assert.ok(!samples.some((s) => s.family === name), `${where}: TYPE for ${name} after its samples`);
        fam.type = rest as FamilyType;
      } else {
        assert.equal(fam.help, null, `${where}: HELP for ${name} given twice`);
        fam.help = rest;
      }
      families.set(name, fam);
      return;
    }
    const m = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`).exec(line);
    assert.ok(m, `${where}: not a sample: ${line}`);
    const name = m[1]!;
    const family = familyOf(name, families);
    assert.ok(family, `${where}: ${name} has no TYPE line`);
    const labels = parseLabels(m[2] ?? '', where);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!seen.has(key), `${where}: duplicate sample ${key}`);
    seen.add(key);
    if (family !== current) {
      assert.ok(!finished.has(family), `${where}: samples of ${family} are not contiguous`);
      if (current !== null) finished.add(current);
      current = family;
    }
    samples.push({ name, labels, value: parseValue(m[3]!, where), family });
  });
  checkHistograms(families, samples);
  return { families, samples, metaLines };
}

/** Per label set: `le` ascending, counts non-decreasing, +Inf bucket = _count, a _sum present. */
function checkHistograms(families: Exposition['families'], samples: Sample[]): void {
  for (const [name, fam] of families) {
    if (fam.type !== 'histogram') continue;
    const groups = new Map<string, { buckets: Array<[number, number]>; sum?: number; count?: number }>();
    for (const s of samples.filter((x) => x.family === name)) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      const g = groups.get(key) ?? { buckets: [] };
      groups.set(key, g);
      if (s.name === `${name}_bucket`) {
        assert.ok(le !== undefined, `${name}_bucket without le`);
        g.buckets.push([parseValue(le, `${name} le`), s.value]);
      } else {
        assert.equal(le, undefined, `${s.name} must not carry le`);
        if (s.name === `${name}_sum`) g.sum = s.value;
        else if (s.name === `${name}_count`) g.count = s.value;
        else assert.fail(`${s.name} in histogram ${name}`);
      }
    }
    for (const [key, g] of groups) {
      const what = `${name}${key}`;
      assert.ok(g.buckets.length > 0, `${what}: no buckets`);
      for (let i = 1; i < g.buckets.length; i++) {
        assert.ok(g.buckets[i]![0] > g.buckets[i - 1]![0], `${what}: le not increasing`);
        assert.ok(g.buckets[i]![1] >= g.buckets[i - 1]![1], `${what}: bucket counts decrease`);
      }
      const last = g.buckets.at(-1)!;
      assert.equal(last[0], Infinity, `${what}: last bucket is le="+Inf"`);
      assert.equal(g.count, last[1], `${what}: _count equals the +Inf bucket`);
      assert.ok(g.sum !== undefined && Number.isFinite(g.sum) && g.sum >= 0, `${what}: _sum present`);
    }
  }
}

function find(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  return e.samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

async function scrape(url: string): Promise<{ text: string; contentType: string | null; e: Exposition }> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  const text = await res.text();
  return { text, contentType: res.headers.get('content-type'), e: parseExposition(text) };
}

// ------------------------------------------------------------ tests

test('the parser rejects what Prometheus would reject', () => {
  const ok = '# HELP a_total x\n# TYPE a_total counter\na_total{k="v"} 1\n';
  assert.equal(parseExposition(ok).samples.length, 1);
  assert.throws(() => parseExposition('a_total 1\n'), /no TYPE line/);
  assert.throws(() => parseExposition('# HELP a x\na 1\n'), /no TYPE line/);
  assert.throws(() => parseExposition('# TYPE a gauge\n# TYPE a gauge\na 1\n'), /given twice/);
  assert.throws(() => parseExposition('# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x="1"} 1\n'), /not contiguous/);
  assert.throws(() => parseExposition('# TYPE a gauge\na{k="v} 1\n'), /bad label set/);
  assert.throws(() => parseExposition('# TYPE a gauge\na 1\na 2\n'), /duplicate sample/);
  assert.throws(() => parseExposition('# TYPE a gauge\na one\n'), /bad value/);
  const hist = (b1: string, b2: string, count: string): string =>
    `# TYPE h histogram\nh_bucket{le="0.1"} ${b1}\nh_bucket{le="+Inf"} ${b2}\nh_sum 0.5\nh_count ${count}\n`;
  assert.equal(parseExposition(hist('1', '2', '2')).samples.length, 4);
  assert.throws(() => parseExposition(hist('3', '2', '2')), /bucket counts decrease/);
  assert.throws(() => parseExposition(hist('1', '2', '3')), /_count equals/);
  assert.throws(() => parseExposition('# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="0.5"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'), /le not increasing/);
});

test('/metrics from a real master and worker', async (t) => {
  const root = tempDir(t);
  const master = await startMaster(t, { dataDir: join(root, 'master') });
  const deviceId = 'metrics-w1';
  startWorker(t, master, { dataDir: join(root, 'w1'), deviceId, maxTasks: 2 });
  const api = new Api(master.httpUrl, master.dataDir);
  await waitFor(async () => {
    const res = await fetch(`${master.httpUrl}/text/devices?format=json&status=online`);
    return ((await res.json()) as unknown[]).length === 1;
  }, 20_000, 'worker online');

  const RUN = 3;
  const submitted = await api.submitBatch(Array.from({ length: RUN }, (_, i) => ({ task_type: 'echo', payload: { message: `m${i}` } })));
  for (const task of submitted) await api.waitForStatus(task.task_id, 'succeeded');
  // The per-device gauges need a heartbeat with metrics (every 0.5 s here).
  await waitFor(async () => find((await scrape(`${master.httpUrl}/metrics`)).e, 'rc_device_cpu_usage_percent', { device_id: deviceId }) !== undefined, 10_000, 'cpu gauge for the worker');

  const { e, contentType, text } = await scrape(`${master.httpUrl}/metrics`);

  await t.test('it is Prometheus text format 0.0.4', () => {
    assert.equal(contentType, CONTENT_TYPE);
    for (const [name, fam] of e.families) {
      assert.match(name, /^rc_/, `${name} is prefixed`);
      assert.ok(fam.help !== null && fam.help.length > 0, `${name} has HELP`);
      assert.ok(fam.type !== null && fam.type !== 'untyped', `${name} has TYPE`);
      if (fam.type === 'counter') assert.match(name, /_total$/, `counter ${name} ends in _total`);
    }
    assert.equal(e.families.get('rc_task_duration_seconds')?.type, 'histogram');
    assert.equal(e.families.get('rc_wire_messages_total')?.type, 'counter');
    assert.equal(e.families.get('rc_devices')?.type, 'gauge');
  });

  await t.test('the values reflect the cluster', () => {
    assert.equal(find(e, 'rc_tasks', { status: 'succeeded' }), RUN, 'tasks succeeded');
    for (const status of ['queued', 'assigned', 'running', 'failed', 'timed_out', 'cancelled']) {
      assert.equal(find(e, 'rc_tasks', { status }), 0, `tasks ${status}`);
    }
    assert.equal(find(e, 'rc_devices', { state: 'online' }), 1, 'devices online = workers started');
    assert.equal(find(e, 'rc_devices', { state: 'offline' }), 0);
    assert.equal(find(e, 'rc_task_duration_seconds_count', { task_type: 'echo' }), RUN);
    assert.equal(find(e, 'rc_task_queue_wait_seconds_count', { task_type: 'echo' }), RUN, 'one assignment each');
    assert.ok((find(e, 'rc_wire_messages_total', { type: 'register' }) ?? 0) >= 1, 'register counted');
    assert.ok((find(e, 'rc_wire_messages_total', { type: 'task_result' }) ?? 0) >= RUN, 'results counted');
    assert.ok((find(e, 'rc_heartbeats_total') ?? 0) > 0, 'heartbeats counted');
    assert.ok((find(e, 'rc_wire_messages_total', { type: 'heartbeat' }) ?? 0) >= (find(e, 'rc_heartbeats_total') ?? Infinity), 'every accepted heartbeat was a heartbeat message');
    assert.ok((find(e, 'rc_wire_connections') ?? 0) >= 1, 'the worker connection is open');
    const cpu = find(e, 'rc_device_cpu_usage_percent', { device_id: deviceId });
    assert.ok(cpu !== undefined && cpu >= 0 && cpu <= 100, `cpu gauge for ${deviceId}: ${cpu}`);
    const mem = find(e, 'rc_device_memory_usage_percent', { device_id: deviceId });
    assert.ok(mem !== undefined && mem > 0 && mem <= 100, `memory gauge for ${deviceId}: ${mem}`);
    assert.equal(find(e, 'rc_sse_clients', { stream: 'tasks' }), 0);
    assert.ok((find(e, 'rc_process_cpu_seconds_total') ?? 0) > 0, 'process metrics');
    assert.ok((find(e, 'rc_process_start_time_seconds') ?? 0) > 1e9);
  });

  await t.test('/text/metrics serves the same exposition', async () => {
    const other = await scrape(`${master.httpUrl}/text/metrics`);
    assert.equal(other.contentType, CONTENT_TYPE);
    // Counters and process gauges move between two scrapes; the shape and the task counts do not.
    assert.deepEqual(other.e.metaLines, e.metaLines);
    assert.deepEqual(other.e.samples.filter((s) => s.name === 'rc_tasks'), e.samples.filter((s) => s.name === 'rc_tasks'));
    assert.ok(other.text.length > 0 && Math.abs(other.text.length - text.length) < text.length / 10);
  });

  await t.test('a garbage frame counts as RC_ERR_PROTO_INVALID_JSON', async () => {
    const code = { code: 'RC_ERR_PROTO_INVALID_JSON' };
    const before = find((await scrape(`${master.httpUrl}/metrics`)).e, 'rc_protocol_errors_total', code) ?? 0;
    const client = await WireClient.connect(master.tcpPort);
    t.after(() => client.close());
    await client.writeRaw('{this is not json\n');
    const [reply] = await client.waitForFrames(1);
    assert.equal(reply?.message_type, 'error');
    assert.equal(reply?.data['code'], 'RC_ERR_PROTO_INVALID_JSON');
    const after = await scrape(`${master.httpUrl}/metrics`);
    assert.equal(find(after.e, 'rc_protocol_errors_total', code), before + 1);
    assert.ok((find(after.e, 'rc_wire_connections') ?? 0) >= 2, 'the test client is an open connection too');
  });
});
