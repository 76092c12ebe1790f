import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Api } from '../helpers/api.js';
import { startMaster, startWorker, tempDir, type RunningMaster } from '../helpers/processes.js';
import { json, SseReader, StuckSseClient, type ReceivedEvent } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';
import { WireClient } from '../helpers/wire-client.js';

interface Cluster {
  master: RunningMaster;
  api: Api;
}

interface ClusterOptions {
  workers?: Array<{ id: string; tags?: string[] }>;
  masterArgs?: string[];
  /** RC_* variables for the master process only. */
  env?: Record<string, string>;
}

async function cluster(t: TestContext, o: ClusterOptions = {}): Promise<Cluster> {
  const root = tempDir(t);
  const master = await startMasterWithEnv(t, join(root, 'master'), o.masterArgs ?? [], o.env ?? {});
  const workers = o.workers ?? [];
  for (const w of workers) startWorker(t, master, { dataDir: join(root, w.id), deviceId: w.id, maxTasks: 4, ...(w.tags ? { tags: w.tags } : {}) });
  await waitFor(async () => (await devices(master)).filter((d) => d.status === 'online').length === workers.length, 20_000, 'workers online');
  return { master, api: new Api(master.httpUrl, master.dataDir) };
}

/** startMaster passes its own environment on to the child; set ours around the (synchronous) spawn. */
async function startMasterWithEnv(t: TestContext, dataDir: string, extraArgs: string[], env: Record<string, string>): Promise<RunningMaster> {
  const saved = Object.keys(env).map((k) => [k, process.env[k]] as const);
  Object.assign(process.env, env);
  const starting = startMaster(t, { dataDir, extraArgs });
  for (const [k, v] of saved) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return starting;
}

async function devices(master: RunningMaster): Promise<Array<{ device_id: string; status: string; last_seen: string }>> {
  const res = await fetch(`${master.httpUrl}/text/devices?format=json`);
  return (await res.json()) as Array<{ device_id: string; status: string; last_seen: string }>;
}

const echo = (n: number, extra: Record<string, unknown> = {}): Array<Record<string, unknown>> =>
  Array.from({ length: n }, (_, i) => ({ task_type: 'echo', payload: { message: `m${i}` }, ...extra }));

/** The promise's value, or 'deadline passed' if it takes longer than `ms`. */
async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | 'deadline passed'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline passed'>((resolve) => (timer = setTimeout(resolve, ms, 'deadline passed')));
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function assertConsecutive(events: ReceivedEvent[], from: number): void {
  const ids = events.map((e) => Number(e.id));
  assert.deepEqual(ids, Array.from({ length: ids.length }, (_, i) => from + i), `ids ${from}.. strictly consecutive: ${ids.join(',')}`);
}

/** Every status each task went through, in stream order. */
function statusesByTask(events: ReceivedEvent[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const ev of events.filter((e) => e.event === 'task')) {
    const { task_id, status } = json<{ task_id: string; status: string }>(ev);
    out.set(task_id, [...(out.get(task_id) ?? []), status]);
  }
  return out;
}

test('a reconnect with Last-Event-ID resumes /stream/tasks with nothing lost and nothing repeated', async (t) => {
  const c = await cluster(t, { workers: [{ id: 'w1' }] });
  const first = await SseReader.open(`${c.master.httpUrl}/stream/tasks`);
  t.after(() => first.abort());
  assert.equal(first.contentType, 'text/event-stream');
  assert.equal(first.headers?.get('cache-control'), 'no-cache');
  assert.equal(first.headers?.get('x-accel-buffering'), 'no');
  const batch1 = await c.api.submitBatch(echo(10));
  await first.waitUntil((evs) => evs.length >= 5, 20_000, 'some task events');
  first.abort();
  await first.waitEnded(5000);
  const seen = [...first.events];
  assert.equal(first.parser.retry, 2000, 'retry: 2000 is sent first');
  const lastId = seen.at(-1)!.id!;

  const batch2 = await c.api.submitBatch(echo(10));
  const all = [...batch1, ...batch2];
  await Promise.all(all.map((task) => c.api.waitForStatus(task.task_id, 'succeeded')));
  const second = await SseReader.open(`${c.master.httpUrl}/stream/tasks`, { 'last-event-id': lastId });
  t.after(() => second.abort());
  const union = (): ReceivedEvent[] => [...seen, ...second.events];
  await second.waitUntil(() => all.every((task) => statusesByTask(union()).get(task.task_id)?.includes('succeeded')), 20_000, 'every task succeeded in the union');

  assert.equal(second.events[0]?.id, String(Number(lastId) + 1), 'the resume starts right after the last id seen');
  assertConsecutive(union(), 1);
  assert.ok(union().every((e) => e.event === 'task'));
  const byTask = statusesByTask(union());
  for (const task of all) {
    const stored = await c.api.task(task.task_id);
    assert.equal(stored.attempts, 1, `${task.task_id} ran once`);
    assert.deepEqual(byTask.get(task.task_id), ['assigned', 'running', 'succeeded'], `every state change of ${task.task_id}`);
  }
});

test('a reconnect with an id the ring no longer holds gets a gap notice first', async (t) => {
  const c = await cluster(t, { workers: [{ id: 'w1' }], env: { RC_SSE_RING_SIZE: '5' } });
  const tasks = await c.api.submitBatch(echo(4));
  await Promise.all(tasks.map((task) => c.api.waitForStatus(task.task_id, 'succeeded')));

  const reader = await SseReader.open(`${c.master.httpUrl}/stream/tasks?last_event_id=2`);
  t.after(() => reader.abort());
  await reader.waitUntil((evs) => evs.length >= 6, 10_000, 'gap and the 5 buffered events');
  const [gap, ...replay] = reader.events;
  assert.equal(gap?.event, 'gap');
  const notice = json<{ missed_from: number; missed_to: number; message: string }>(gap!);
  assert.equal(notice.missed_from, 3);
  assert.equal(notice.missed_to, Number(replay[0]!.id) - 1, 'the gap ends right before the oldest event held');
  assert.equal(gap!.id, String(notice.missed_to), 'after the notice the client has accounted for the missed ids');
  assert.match(notice.message, /no longer buffered/);
  assertConsecutive(replay, notice.missed_to + 1);
  const newest = Number(replay[4]!.id);
  assert.ok(newest >= 12, `4 tasks made at least 12 events (newest ${newest})`);

  // Nothing else is buffered: the next event is a live one, right after the newest.
  const more = await c.api.submit({ task_type: 'echo', payload: { message: 'live' } });
  await reader.waitUntil((evs) => evs.some((e) => e.event === 'task' && json(e)['task_id'] === more.task_id), 10_000, 'the live event');
  assert.equal(reader.events[6]?.id, String(newest + 1));

  const inside = await SseReader.open(`${c.master.httpUrl}/stream/tasks`, { 'last-event-id': String(newest - 1) });
  t.after(() => inside.abort());
  await inside.waitUntil((evs) => evs.length >= 1, 10_000, 'the replay');
  assert.equal(inside.events[0]?.event, 'task', 'an id inside the ring is no gap');
  assert.equal(inside.events[0]?.id, String(newest));
});

test('a client that stops reading does not stall heartbeats and is dropped', async (t) => {
  const c = await cluster(t, {
    workers: [{ id: 'w1' }, { id: 'w2' }],
    masterArgs: ['--log-level', 'debug'],
    // Bad frames below come from unregistered peers; a rate limit (if configured) must let a batch through.
    env: { RC_MAX_MSGS_PER_S_UNREGISTERED: '1000000' },
  });
  const port = c.master.httpPort;
  const stuckLogs = await StuckSseClient.open(port, '/stream/logs?level=debug');
  const stuckDevices = await StuckSseClient.open(port, '/stream/devices?interval=1');
  t.after(() => {
    stuckLogs.destroy();
    stuckDevices.destroy();
  });
  await c.api.submitBatch(echo(300));

  const isDropLogged = async (): Promise<boolean> => {
    const res = await fetch(`${c.master.httpUrl}/text/logs?level=warn&format=json&limit=1000`);
    const rows = (await res.json()) as Array<{ msg: string; fields: string | null }>;
    return rows.some((r) => r.msg === 'sse client not reading; dropped' && (r.fields ?? '').includes('stream=logs'));
  };
  let sent = 0;
  let checks = 0;
  const deadline = Date.now() + 90_000;
  // A loopback socket takes ~4 MB before it pushes back, then the client's queue takes 1 MiB:
  // each bad frame is one debug line (~250 bytes) on the stuck /stream/logs client.
  while (!(await isDropLogged())) {
    assert.ok(Date.now() < deadline, `the stuck client was not dropped after ${sent} log lines`);
    await Promise.all(Array.from({ length: 4 }, () => sendBadFrames(c.master.tcpPort, 300)));
    sent += 1200;
    for (const d of await devices(c.master)) {
      const ageMs = Date.now() - Date.parse(d.last_seen);
      assert.ok(ageMs < 5000, `heartbeats of ${d.device_id} are still processed (last seen ${ageMs} ms ago, after ${sent} lines)`);
    }
    checks += 1;
  }
  assert.ok(checks >= 2, `heartbeat freshness was checked while the client was stuck (${checks} times)`);

  // The metrics exposition counts it, where the metrics route is in place.
  const metrics = await fetch(`${c.master.httpUrl}/metrics`);
  const body = metrics.status === 200 ? await metrics.text() : '';
  const dropped = /^rc_sse_clients_dropped_total\{stream="logs"\} (\d+)/m.exec(body);
  if (dropped) assert.ok(Number(dropped[1]) >= 1, 'the drop is counted');

  // Reading now, the stuck client gets what was on its way, then the notice, then the end.
  stuckLogs.resume();
  await stuckLogs.waitEnded(20_000);
  const last = stuckLogs.events.at(-1)!;
  assert.equal(last.event, 'dropped');
  const notice = json<{ last_event_id: number }>(last);
  assert.equal(last.id, String(notice.last_event_id));
  const delivered = stuckLogs.events.slice(0, -1);
  assert.ok(delivered.length > 1000, `the client got what reached its socket (${delivered.length} events)`);
  assertConsecutive(delivered, Number(delivered[0]!.id));
  assert.equal(delivered.at(-1)!.id, last.id, 'the notice names the last event delivered');

  // A reconnect from there continues (or says exactly what it missed).
  const again = await SseReader.open(`${c.master.httpUrl}/stream/logs?level=debug`, { 'last-event-id': last.id! });
  t.after(() => again.abort());
  await sendBadFrames(c.master.tcpPort, 1);
  await again.waitUntil((evs) => evs.length >= 1, 10_000, 'the resumed stream');
  const firstAgain = again.events[0]!;
  if (firstAgain.event === 'gap') assert.equal(json(firstAgain)['missed_from'], notice.last_event_id + 1);
  else assert.equal(firstAgain.id, String(notice.last_event_id + 1));
});

/** One short-lived peer sends `count` lines that are not JSON; the master logs each at debug and answers each. */
async function sendBadFrames(tcpPort: number, count: number): Promise<void> {
  const peer = await WireClient.connect(tcpPort);
  try {
    await peer.writeRaw('this is not json\n'.repeat(count));
    await peer.waitForFrames(count, 20_000);
  } finally {
    peer.close();
  }
}

test('?task_id= streams an exec task\'s output lines live, in order, then its end', async (t) => {
  const c = await cluster(t, { workers: [{ id: 'w1' }] });
  const script = 'sleep 0.5; for i in 1 2 3; do echo line$i; sleep 0.2; done';
  const task = await c.api.submit({ task_type: 'exec', payload: { command: ['/bin/sh', '-c', script] } });
  const reader = await SseReader.open(`${c.master.httpUrl}/stream/tasks?task_id=${task.task_id}`);
  t.after(() => reader.abort());
  await reader.waitEnded(20_000);

  const events = reader.events;
  assertConsecutive(events, 1);
  const outputs = events.filter((e) => e.event === 'output');
  const lines = outputs.map((e) => json<{ task_id: string; attempt: number; stream: string; line: string; seq: number }>(e));
  assert.deepEqual(lines.map((l) => l.line), ['line1', 'line2', 'line3']);
  assert.ok(lines.every((l) => l.task_id === task.task_id && l.attempt === 1 && l.stream === 'stdout'));
  assert.ok(lines[0]!.seq < lines[1]!.seq && lines[1]!.seq < lines[2]!.seq, `seq increases: ${lines.map((l) => l.seq).join(',')}`);
  assert.ok(outputs[2]!.atMs - outputs[0]!.atMs >= 250, `lines arrived as they were printed, not at the end (${outputs[2]!.atMs - outputs[0]!.atMs} ms apart)`);
  assert.deepEqual(events.slice(-2).map((e) => e.event), ['task', 'end']);
  assert.equal(json(events.at(-2)!)['status'], 'succeeded');
  assert.deepEqual(json(events.at(-1)!), { task_id: task.task_id, status: 'succeeded' });
  assert.ok(events.indexOf(outputs[0]!) > 0 && events[0]!.event === 'task', 'the task state comes first');
});

test('/stream/logs?level=warn carries only warn and above', async (t) => {
  const c = await cluster(t, { masterArgs: ['--max-line-bytes', '4096'] });
  const warn = await SseReader.open(`${c.master.httpUrl}/stream/logs?level=warn`);
  const info = await SseReader.open(`${c.master.httpUrl}/stream/logs`);
  t.after(() => {
    warn.abort();
    info.abort();
  });
  startWorker(t, c.master, { dataDir: join(tempDir(t), 'w1'), deviceId: 'w1' });
  await info.waitUntil((evs) => evs.some((e) => json(e)['msg'] === 'device registered'), 20_000, 'an info line');
  const peer = await WireClient.connect(c.master.tcpPort);
  t.after(() => peer.close());
  await peer.writeRaw(`${'x'.repeat(5000)}\n`);
  await warn.waitUntil((evs) => evs.some((e) => json(e)['msg'] === 'line too long; closing connection'), 10_000, 'the warn line');
  await info.waitUntil((evs) => evs.some((e) => json(e)['msg'] === 'line too long; closing connection'), 10_000, 'the warn line on the info stream');

  const levels = warn.events.map((e) => json<{ level: number }>(e).level);
  assert.ok(levels.every((l) => l >= 40), `only level >= 40: ${levels.join(',')}`);
  assert.ok(info.events.some((e) => json<{ level: number }>(e).level === 30), 'info lines were logged meanwhile');
  assert.ok(warn.events.every((e) => e.id !== null && e.event === 'log'));
});

test('/text/logs shows recent lines as a table, and the streams check their parameters', async (t) => {
  const c = await cluster(t, { env: { RC_SSE_KEEPALIVE_MS: '100' } });
  const url = c.master.httpUrl;
  const text = await (await fetch(`${url}/text/logs`)).text();
  assert.match(text.split('\n')[0]!, /^TIME\s+LEVEL\s+COMPONENT\s+MSG\s+FIELDS$/);
  assert.match(text, /master listening .*tcp_port=\d+/);
  const rows = (await (await fetch(`${url}/text/logs?format=json&limit=2`)).json()) as Array<Record<string, unknown>>;
  assert.equal(rows.length, 2);
  assert.deepEqual(Object.keys(rows[0]!), ['time', 'level', 'component', 'msg', 'fields']);
  const csv = await fetch(`${url}/text/logs?format=csv&level=error`);
  assert.equal(csv.headers.get('content-type'), 'text/csv; charset=utf-8');
  assert.equal((await csv.text()).trim(), 'time,level,component,msg,fields', 'no error lines yet');

  for (const path of ['/text/logs?limit=0', '/text/logs?limit=1001', '/text/logs?level=loud', '/stream/logs?level=loud', '/stream/devices?interval=61', '/stream/tasks?last_event_id=abc']) {
    const res = await fetch(`${url}${path}`);
    assert.equal(res.status, 400, path);
    assert.equal(((await res.json()) as { code: string }).code, 'RC_ERR_HTTP_BAD_REQUEST', path);
  }
  assert.equal((await fetch(`${url}/stream/tasks?task_id=no-such-task`)).status, 404);

  const quiet = await SseReader.open(`${url}/stream/tasks`);
  t.after(() => quiet.abort());
  await waitFor(() => quiet.parser.comments >= 2, 5000, 'keep-alive comments on an idle stream');
  assert.equal(quiet.events.length, 0, 'comments are not events');
});

test('the master exits promptly on SIGTERM with streams open', async (t) => {
  const c = await cluster(t, { workers: [{ id: 'w1' }] });
  const url = c.master.httpUrl;
  const readers = await Promise.all(['/stream/logs', '/stream/tasks', '/stream/devices?interval=1'].map((p) => SseReader.open(`${url}${p}`)));
  const task = await c.api.submit({ task_type: 'sleep', payload: { seconds: 30 } });
  await c.api.waitForStatus(task.task_id, 'running');
  readers.push(await SseReader.open(`${url}/stream/tasks?task_id=${task.task_id}`));
  const stuck = await StuckSseClient.open(c.master.httpPort, '/stream/logs?level=debug');
  t.after(() => {
    for (const r of readers) r.abort();
    stuck.destroy();
  });
  await readers[2]!.waitForEvent('heartbeats', 5000);

  const sentAt = Date.now();
  c.master.kill('SIGTERM');
  const outcome = await withDeadline(c.master.exited, 5000);
  assert.equal(outcome, 0, `exit code (output: ${c.master.output().slice(-500)})`);
  assert.ok(Date.now() - sentAt < 5000);
  await Promise.all(readers.map((r) => r.waitEnded(2000)));
});
