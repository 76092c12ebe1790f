import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProgressBar, renderProgress } from '../../src/cli/rc-progress.js';
import { colorLevel, createStyle, isColorEnabled, styleFor } from '../../src/cli/rc-style.js';

const ESC = '\u001b[';

describe('isColorEnabled', () => {
  test('colours a TTY when NO_COLOR is unset', () => {
    assert.equal(isColorEnabled({}, true), true);
  });

  test('never colours what is not a TTY', () => {
    assert.equal(isColorEnabled({}, false), false);
    assert.equal(isColorEnabled({}, undefined), false);
  });

  test('NO_COLOR with any non-empty value turns colour off, even on a TTY', () => {
    for (const value of ['1', '0', 'false', 'yes', ' ']) assert.equal(isColorEnabled({ NO_COLOR: value }, true), false, `NO_COLOR=${JSON.stringify(value)}`);
  });

  test('an empty NO_COLOR counts as unset', () => {
    assert.equal(isColorEnabled({ NO_COLOR: '' }, true), true);
    assert.equal(isColorEnabled({ NO_COLOR: undefined }, true), true);
  });
});

describe('createStyle', () => {
  test('wraps text in ANSI codes when enabled and closes each one', () => {
    const style = createStyle(true);
    assert.equal(style.red('x'), `${ESC}31mx${ESC}39m`);
    assert.equal(style.dim('x'), `${ESC}2mx${ESC}22m`);
    assert.equal(style.enabled, true);
  });

  test('returns text untouched when disabled', () => {
    const style = createStyle(false);
    for (const fn of [style.dim, style.bold, style.red, style.green, style.yellow, style.blue, style.magenta, style.gray]) assert.equal(fn('text'), 'text');
    assert.equal(colorLevel(style, 'error', 'ERROR'), 'ERROR');
  });

  test('styleFor decides from the stream and the environment', () => {
    assert.equal(styleFor({ isTTY: true }, {}).enabled, true);
    assert.equal(styleFor({ isTTY: true }, { NO_COLOR: '1' }).enabled, false);
    assert.equal(styleFor({ isTTY: false }, {}).enabled, false);
    assert.equal(styleFor({}, {}).enabled, false);
  });

  test('colours levels by severity', () => {
    const style = createStyle(true);
    assert.equal(colorLevel(style, 'error', 'ERROR'), style.red('ERROR'));
    assert.equal(colorLevel(style, 'warn', 'WARN '), style.yellow('WARN '));
    assert.equal(colorLevel(style, 'info', 'INFO '), style.green('INFO '));
    assert.notEqual(colorLevel(style, 'fatal'), colorLevel(style, 'error'));
  });
});

describe('renderProgress', () => {
  test('draws the issue example at 80 columns', () => {
    const line = renderProgress({ done: 512, failed: 3, total: 1000, elapsedMs: 12_345 }, 80);
    assert.match(line, /^\[#+\.+\] 512\/1000 done {2}3 failed {2}12\.3 s$/);
    const bar = /^\[([#.]+)\]/.exec(line)?.[1] ?? '';
    assert.equal(bar.length, 30);
    assert.equal(bar.replaceAll('.', '').length, 15, 'half done: 15 of 30 filled (floor)');
  });

  test('an empty run shows an empty bar and a finished one a full bar', () => {
    assert.match(renderProgress({ done: 0, failed: 0, total: 20, elapsedMs: 0 }, 80), /^\[\.{30}\] 0\/20 done {2}0 failed {2}0\.0 s$/);
    assert.match(renderProgress({ done: 20, failed: 0, total: 20, elapsedMs: 1000 }, 80), /^\[#{30}\] 20\/20 done/);
  });

  test('zero tasks counts as complete instead of dividing by zero', () => {
    assert.match(renderProgress({ done: 0, failed: 0, total: 0, elapsedMs: 0 }, 80), /^\[#{30}\]/);
  });

  test('the bar shrinks to fit a narrow terminal and the line never reaches the last column', () => {
    for (const columns of [60, 50, 45, 40]) {
      const line = renderProgress({ done: 512, failed: 3, total: 1000, elapsedMs: 12_345 }, columns);
      assert.ok(line.length <= columns - 1, `${columns} columns: ${JSON.stringify(line)} is ${line.length} long`);
    }
    const narrow = renderProgress({ done: 512, failed: 3, total: 1000, elapsedMs: 12_345 }, 50);
    assert.equal(/^\[([#.]+)\]/.exec(narrow)?.[1]?.length, 49 - 2 - ' 512/1000 done  3 failed  12.3 s'.length);
  });

  test('a terminal that reports no width (0 or unknown) gets 80 columns', () => {
    const expected = renderProgress({ done: 1, failed: 0, total: 2, elapsedMs: 0 }, 80);
    assert.equal(renderProgress({ done: 1, failed: 0, total: 2, elapsedMs: 0 }, 0), expected);
    assert.equal(renderProgress({ done: 1, failed: 0, total: 2, elapsedMs: 0 }), expected);
  });

  test('never draws fewer than 5 bar cells, truncating the line instead', () => {
    const line = renderProgress({ done: 1, failed: 0, total: 2, elapsedMs: 0 }, 20);
    assert.equal(line.length, 19);
    assert.match(line, /^\[##\.\.\.\]/);
  });
});

describe('ProgressBar', () => {
  function fakeStream(isTTY: boolean): { isTTY: boolean; columns: number; written: string[]; write(t: string): boolean } {
    const written: string[] = [];
    return { isTTY, columns: 80, written, write: (t: string) => written.push(t) > 0 };
  }

  test('redraws in place on a TTY and clears the line at the end', () => {
    const stream = fakeStream(true);
    const bar = new ProgressBar(stream);
    bar.update({ done: 1, failed: 0, total: 2, elapsedMs: 100 });
    bar.update({ done: 2, failed: 1, total: 2, elapsedMs: 200 });
    bar.clear();
    assert.equal(stream.written.length, 3);
    assert.ok(stream.written[0]?.startsWith('\r['));
    assert.ok(stream.written[1]?.includes('2/2 done  1 failed'));
    assert.ok(stream.written.slice(0, 2).every((w) => w.endsWith(`${ESC}K`)));
    assert.equal(stream.written[2], `\r${ESC}K`);
  });

  test('writes nothing at all when the stream is not a TTY', () => {
    const stream = fakeStream(false);
    const bar = new ProgressBar(stream);
    bar.update({ done: 1, failed: 0, total: 2, elapsedMs: 100 });
    bar.clear();
    assert.equal(bar.isActive, false);
    assert.deepEqual(stream.written, []);
  });
});
