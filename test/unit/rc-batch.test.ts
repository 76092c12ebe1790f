import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CliExit } from '../../src/cli/http-client.js';
import { formatSummary, parseTaskLines, summarize } from '../../src/cli/rc-batch.js';

const usageError = (line: RegExp) => (err: unknown): boolean => err instanceof CliExit && err.exitCode === 2 && line.test(err.message);

describe('parseTaskLines', () => {
  test('reads one task object per line and skips blank lines', () => {
    const tasks = parseTaskLines('{"task_type":"echo","payload":{"message":"a"}}\n\n  \r\n{"task_type":"sleep"}\r\n', 'f');
    assert.deepEqual(tasks, [{ task_type: 'echo', payload: { message: 'a' } }, { task_type: 'sleep' }]);
  });

  test('a line that is not JSON is a usage error naming its line number', () => {
    assert.throws(() => parseTaskLines('{"task_type":"echo"}\n\n{oops}\n', '--from f'), usageError(/^--from f line 3: not valid JSON/));
  });

  test('a line that is not an object with a task_type is a usage error too', () => {
    assert.throws(() => parseTaskLines('{"task_type":"echo"}\n[1]\n', 'f'), usageError(/line 2:/));
    assert.throws(() => parseTaskLines('null\n', 'f'), usageError(/line 1:/));
    assert.throws(() => parseTaskLines('{"payload":{}}\n', 'f'), usageError(/line 1: .*task_type/));
    assert.throws(() => parseTaskLines('{"task_type":7}\n', 'f'), usageError(/line 1:/));
  });

  test('a file with no tasks is a usage error', () => {
    assert.throws(() => parseTaskLines('\n\n', 'f'), usageError(/no tasks/));
  });
});

describe('summary', () => {
  test('counts final statuses and lists the tasks that did not succeed', () => {
    const final = new Map([
      ['a', 'succeeded'],
      ['b', 'failed'],
      ['c', 'succeeded'],
      ['d', 'timed_out'],
    ]);
    const s = summarize(final, 2000);
    assert.deepEqual(s.counts, { succeeded: 2, failed: 1, timed_out: 1 });
    assert.equal(s.tasks_per_s, 2);
    assert.equal(s.elapsed_s, 2);
    assert.deepEqual(s.not_succeeded, [{ task_id: 'b', status: 'failed' }, { task_id: 'd', status: 'timed_out' }]);
    assert.equal(formatSummary(s), '4 tasks in 2.0 s (2.0 tasks/s): 2 succeeded, 1 failed, 1 timed_out\ndid not succeed:\n  b failed\n  d timed_out\n');
  });

  test('all succeeded: one line; a zero elapsed time does not divide by zero', () => {
    const s = summarize(new Map([['a', 'succeeded']]), 0);
    assert.ok(Number.isFinite(s.tasks_per_s));
    assert.match(formatSummary(s), /^1 tasks in 0\.0 s \([\d.]+ tasks\/s\): 1 succeeded\n$/);
  });

  test('lists at most ten failures and says how many more', () => {
    const final = new Map(Array.from({ length: 12 }, (_, i) => [`t${i}`, 'failed'] as [string, string]));
    const text = formatSummary(summarize(final, 1000));
    assert.equal(text.split('\n').filter((l) => /^ {2}t\d+ failed$/.test(l)).length, 10);
    assert.match(text, /… and 2 more/);
  });
});
