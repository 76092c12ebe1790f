import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatClock, formatLogLine, levelName, levelNumber } from '../../src/cli/rc-log-format.js';
import { createStyle } from '../../src/cli/rc-style.js';

const plain = createStyle(false);
// A local time, so the expected clock does not depend on the machine's time zone.
const TIME = new Date(2026, 10, 24, 9, 5, 7, 42).getTime();

describe('formatLogLine', () => {
  test('prints time, level, component, message, then the other fields as key=value', () => {
    const line = formatLogLine(
      { level: 30, time: TIME, pid: 4821, hostname: 'nas', name: 'rc-master', component: 'tasks', msg: 'task submitted', task_id: 'abc', attempt: 1 },
      plain,
    );
    assert.equal(line, '09:05:07.042 INFO  tasks task submitted task_id=abc attempt=1');
  });

  test('quotes strings with spaces, prints objects as JSON and errors as their message', () => {
    const line = formatLogLine(
      { level: 50, time: TIME, msg: 'failed', reason: 'disk full', detail: { a: 1 }, err: { type: 'Error', message: 'boom', stack: 'Error: boom\n at x' } },
      plain,
    );
    assert.equal(line, '09:05:07.042 ERROR - failed reason="disk full" detail={"a":1} err="boom"');
  });

  test('falls back to the logger name without a component', () => {
    assert.match(formatLogLine({ level: 40, time: TIME, name: 'rc-master', msg: 'hm' }, plain), /^09:05:07\.042 WARN {2}rc-master hm$/);
  });

  test('colours the level only when styling is on', () => {
    const coloured = formatLogLine({ level: 50, time: TIME, component: 'x', msg: 'm' }, createStyle(true));
    assert.ok(coloured.includes('\u001b[31mERROR\u001b[39m'));
    assert.ok(!formatLogLine({ level: 50, time: TIME, component: 'x', msg: 'm' }, plain).includes('\u001b['));
  });
});

describe('levels and clock', () => {
  test('maps pino numbers to names and back', () => {
    assert.equal(levelName(10), 'trace');
    assert.equal(levelName(60), 'fatal');
    assert.equal(levelName(35), 'L35');
    assert.equal(levelName('WARN'), 'warn');
    assert.equal(levelNumber('error'), 50);
    assert.equal(levelNumber(40), 40);
    assert.equal(levelNumber('nonsense'), 0);
  });

  test('formats epoch milliseconds and ISO strings; garbage becomes dashes', () => {
    assert.equal(formatClock(TIME), '09:05:07.042');
    assert.equal(formatClock(new Date(TIME).toISOString()), '09:05:07.042');
    assert.equal(formatClock(undefined), '--:--:--.---');
    assert.equal(formatClock('not a time'), '--:--:--.---');
  });
});
