import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeFileAtomic } from '../../src/common/atomic-file.js';
import { makeTempDir } from '../helpers/store.js';

test('writeFileAtomic replaces the file whole, leaves no temp file, and sets the mode even over a stale temp file', (t) => {
  const dir = makeTempDir(t, 'rc-atomic-');
  const file = join(dir, 'secret');
  writeFileSync(file, 'old\n');
  writeFileSync(`${file}.tmp`, 'half a sec', { mode: 0o644 });
  writeFileAtomic(file, 'new\n', 0o600);
  assert.equal(readFileSync(file, 'utf8'), 'new\n');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(existsSync(`${file}.tmp`), false);
});
