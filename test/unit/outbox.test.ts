import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createLogger, type Logger } from '../../src/common/logger.js';
import { OUTBOX_FILE, ResultOutbox } from '../../src/worker/outbox.js';
import type { TaskResultData } from '../../src/protocol/types.js';

function dataDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'rc-outbox-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A logger whose warnings the test can read. */
function recordingLog(): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', name: 'test', destination: { write: (s: string) => void lines.push(s) } });
  return { log, lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

function result(taskId: string, attempt = 1, output = `out of ${taskId}`): TaskResultData {
  return { task_id: taskId, attempt, status: 'succeeded', result: { output, exit_code: 0, error: null, duration_s: 0.1, truncated: false } } as TaskResultData;
}

test('results put and not acknowledged survive a reopen, in order, with their content', (t) => {
  const dir = dataDir(t);
  const first = ResultOutbox.open(dir, recordingLog().log);
  first.put(result('a'));
  first.put(result('b', 2));
  first.put(result('c'));
  first.remove('b#2');
  first.close();

  const second = ResultOutbox.open(dir, recordingLog().log);
  assert.deepEqual(second.keys(), ['a#1', 'c#1']);
  assert.deepEqual(second.get('a#1'), result('a'));
  second.close();
});

test('the file is emptied once nothing is pending, and compacted to the pending results on open', (t) => {
  const dir = dataDir(t);
  const file = join(dir, OUTBOX_FILE);
  const box = ResultOutbox.open(dir, recordingLog().log);
  box.put(result('a'));
  box.put(result('b'));
  box.remove('a#1');
  assert.ok(statSync(file).size > 0);
  box.remove('b#1');
  assert.equal(statSync(file).size, 0, 'nothing pending: the file is truncated');
  box.put(result('c'));
  box.put(result('d'));
  box.remove('c#1');
  box.close();

  const reopened = ResultOutbox.open(dir, recordingLog().log);
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(lines.length, 1, 'only the pending result is left after compaction');
  assert.equal((JSON.parse(lines[0]!) as { put: TaskResultData }).put.task_id, 'd');
  reopened.close();
});

test('a torn last line (a crash mid-write) and foreign lines are skipped with a warning, never fatal', (t) => {
  const dir = dataDir(t);
  const file = join(dir, OUTBOX_FILE);
  const box = ResultOutbox.open(dir, recordingLog().log);
  box.put(result('kept'));
  box.close();
  appendFileSync(file, '"just a string"\n{"put":{"task_id":"x"}}\n{"put":{"task_id":"torn","att');

  const { log, lines } = recordingLog();
  const reopened = ResultOutbox.open(dir, log);
  assert.deepEqual(reopened.keys(), ['kept#1']);
  const warning = lines().find((l) => String(l['msg']).includes('skipped'));
  assert.equal(warning?.['skipped'], 3);
  reopened.close();
});

test('a missing file is an empty outbox; a garbage file is an empty outbox with a warning', (t) => {
  const dir = dataDir(t);
  assert.equal(ResultOutbox.open(dir, recordingLog().log).size, 0);
  writeFileSync(join(dir, OUTBOX_FILE), Buffer.from([0xff, 0xfe, 0x00, 0x0a, 0x7b]));
  const { log, lines } = recordingLog();
  assert.equal(ResultOutbox.open(dir, log).size, 0);
  assert.ok(lines().some((l) => String(l['msg']).includes('skipped')));
});

test('removing an unknown key changes nothing; putting the same attempt twice keeps one', (t) => {
  const dir = dataDir(t);
  const box = ResultOutbox.open(dir, recordingLog().log);
  box.put(result('a'));
  box.put(result('a', 1, 'second copy'));
  box.remove('nope#1');
  assert.equal(box.size, 1);
  assert.equal(box.get('a#1')?.result?.output, 'second copy');
  box.close();
  assert.deepEqual(ResultOutbox.open(dir, recordingLog().log).keys(), ['a#1']);
});

test('the in-memory outbox writes nothing', () => {
  const box = ResultOutbox.inMemory();
  box.put(result('a'));
  assert.equal(box.size, 1);
  box.remove('a#1');
  assert.equal(box.size, 0);
});
