import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LineFramer } from '../../src/protocol/framing.js';
import { seededRandom } from '../helpers/random.js';

const MAX = 64;

interface Collected {
  lines: string[];
  invalidUtf8: number;
  overflow: boolean;
}

function framer(maxLineBytes = MAX): LineFramer {
  return new LineFramer({ maxLineBytes });
}

/** Pushes every chunk and merges the results. */
function pushAll(f: LineFramer, chunks: ReadonlyArray<string | Buffer>): Collected {
  const out: Collected = { lines: [], invalidUtf8: 0, overflow: false };
  for (const chunk of chunks) {
    const r = f.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    out.lines.push(...r.lines);
    out.invalidUtf8 += r.invalidUtf8;
    out.overflow ||= r.overflow;
  }
  return out;
}

/** Splits a buffer into pieces of `size` bytes (the last may be shorter). */
function slices(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

describe('LineFramer: reassembly', () => {
  test('reassembles one message delivered one byte at a time, multi-byte characters included', () => {
    const message = JSON.stringify({ message_type: 'register', hostname: 'café-😀-设备', note: 'ünïcødé' });
    const bytes = Buffer.from(`${message}\n`, 'utf8');
    assert.ok(bytes.length > message.length, 'fixture holds multi-byte characters');
    const f = framer(4096);
    const seen: string[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const r = f.push(bytes.subarray(i, i + 1));
      assert.equal(r.overflow, false);
      assert.equal(r.invalidUtf8, 0);
      if (i < bytes.length - 1) assert.deepEqual(r.lines, [], `no line before the newline (byte ${i})`);
      seen.push(...r.lines);
    }
    assert.deepEqual(seen, [message]);
    assert.equal(f.pendingBytes, 0);
  });

  test('decodes "é" split between two chunks', () => {
    const bytes = Buffer.from('{"name":"é"}\n', 'utf8');
    const split = bytes.indexOf(0xc3) + 1; // between the two bytes of é (C3 A9)
    assert.equal(bytes[split], 0xa9);
    const r = pushAll(framer(), [bytes.subarray(0, split), bytes.subarray(split)]);
    assert.deepEqual(r.lines, ['{"name":"é"}']);
    assert.equal(r.invalidUtf8, 0);
  });

  for (const cut of [1, 2, 3]) {
    test(`decodes a 4-byte emoji split after its byte ${cut}`, () => {
      const bytes = Buffer.from('x😀y\n', 'utf8');
      const at = 1 + cut; // emoji starts at byte 1
      const r = pushAll(framer(), [bytes.subarray(0, at), bytes.subarray(at)]);
      assert.deepEqual(r.lines, ['x😀y']);
      assert.equal(r.invalidUtf8, 0);
    });
  }

  test('yields every message of a chunk that holds many, in order', () => {
    const messages = Array.from({ length: 200 }, (_, i) => JSON.stringify({ n: i }));
    const r = framer().push(Buffer.from(messages.map((m) => `${m}\n`).join(''), 'utf8'));
    assert.deepEqual(r.lines, messages);
    assert.equal(r.overflow, false);
  });

  test('delivers any number of messages over time whatever the chunk boundaries', () => {
    const messages = Array.from({ length: 500 }, (_, i) => JSON.stringify({ n: i, s: 'é😀'.repeat(i % 7) }));
    const stream = Buffer.from(messages.map((m) => `${m}\n`).join(''), 'utf8');
    for (const seed of [1, 2, 3, 42]) {
      const rand = seededRandom(seed);
      const f = framer(1024);
      const chunks: Buffer[] = [];
      for (let i = 0; i < stream.length; ) {
        const size = 1 + Math.floor(rand() * 97);
        chunks.push(stream.subarray(i, i + size));
        i += size;
      }
      const r = pushAll(f, chunks);
      assert.deepEqual(r.lines, messages, `seed ${seed}`);
      assert.equal(r.invalidUtf8, 0);
      assert.equal(f.pendingBytes, 0);
    }
  });

  test('holds a trailing partial message until its newline arrives', () => {
    const f = framer();
    const first = f.push(Buffer.from('{"a":1}\n{"b":', 'utf8'));
    assert.deepEqual(first.lines, ['{"a":1}']);
    assert.equal(f.pendingBytes, 5);
    const second = f.push(Buffer.from('2}\n', 'utf8'));
    assert.deepEqual(second.lines, ['{"b":2}']);
    assert.equal(f.pendingBytes, 0);
  });

  test('strips \\r\\n terminators, also when \\r and \\n arrive in different chunks', () => {
    assert.deepEqual(framer().push(Buffer.from('a\r\nb\r\nc\n')).lines, ['a', 'b', 'c']);
    assert.deepEqual(pushAll(framer(), ['a\r', '\nb\r', '\n']).lines, ['a', 'b']);
  });

  test('keeps a \\r that is not part of the terminator', () => {
    assert.deepEqual(framer().push(Buffer.from('a\rb\n')).lines, ['a\rb']);
  });

  test('drops blank and whitespace-only lines', () => {
    const r = framer().push(Buffer.from('\n\n   \n\r\n\t \r\n{"x":1}\n\n', 'utf8'));
    assert.deepEqual(r.lines, ['{"x":1}']);
    assert.equal(r.invalidUtf8, 0);
  });
});

describe('LineFramer: line limit', () => {
  test('accepts a line of exactly maxLineBytes', () => {
    const line = 'x'.repeat(MAX);
    const f = framer();
    const r = f.push(Buffer.from(`${line}\n`));
    assert.deepEqual(r.lines, [line]);
    assert.equal(r.overflow, false);
    assert.equal(f.hasOverflowed, false);
  });

  test('rejects a line one byte over maxLineBytes', () => {
    const f = framer();
    const r = f.push(Buffer.from(`${'x'.repeat(MAX + 1)}\n`));
    assert.equal(r.overflow, true);
    assert.deepEqual(r.lines, []);
    assert.equal(f.hasOverflowed, true);
  });

  test('counts the limit in bytes, not characters', () => {
    const exact = 'é'.repeat(MAX / 2); // 2 bytes each: exactly MAX bytes
    const ok = framer().push(Buffer.from(`${exact}\n`, 'utf8'));
    assert.deepEqual(ok.lines, [exact]);
    assert.equal(ok.overflow, false);
    const over = framer().push(Buffer.from(`${exact}x\n`, 'utf8')); // MAX/2 + 1 characters, MAX + 1 bytes
    assert.equal(over.overflow, true);
    assert.deepEqual(over.lines, []);
  });

  test('accepts a line of exactly maxLineBytes terminated by \\r\\n', () => {
    // The limit is on the line "without its newline"; \r\n is the whole terminator.
    const line = 'x'.repeat(MAX);
    const r = framer().push(Buffer.from(`${line}\r\n`));
    assert.equal(r.overflow, false);
    assert.deepEqual(r.lines, [line]);
  });

  test('accepts a line of exactly maxLineBytes whose \\r\\n terminator is split between chunks', () => {
    const line = 'x'.repeat(MAX);
    const f = framer();
    const a = f.push(Buffer.from(`${line}\r`));
    assert.equal(a.overflow, false, 'a trailing \\r may be the start of the terminator');
    const b = f.push(Buffer.from('\n'));
    assert.equal(b.overflow, false);
    assert.deepEqual(b.lines, [line]);
  });

  test('rejects a full-length line whose trailing \\r turns out to be content', () => {
    const f = framer();
    assert.equal(f.push(Buffer.from(`${'x'.repeat(MAX)}\r`)).overflow, false);
    const r = f.push(Buffer.from('y\n'));
    assert.equal(r.overflow, true);
    assert.deepEqual(r.lines, []);
  });

  test('rejects a line of maxLineBytes + 1 terminated by \\r\\n', () => {
    const r = framer().push(Buffer.from(`${'x'.repeat(MAX + 1)}\r\n`));
    assert.equal(r.overflow, true);
    assert.deepEqual(r.lines, []);
  });

  test('accepts a line of exactly maxLineBytes assembled from several chunks', () => {
    const line = 'y'.repeat(MAX);
    const r = pushAll(framer(), [...slices(Buffer.from(line), 10), '\n']);
    assert.deepEqual(r.lines, [line]);
    assert.equal(r.overflow, false);
  });

  test('rejects a line one byte over maxLineBytes assembled from several chunks ending in its newline', () => {
    const r = pushAll(framer(), [...slices(Buffer.from('y'.repeat(MAX)), 10), 'y\n']);
    assert.equal(r.overflow, true);
    assert.deepEqual(r.lines, []);
  });

  test('fails as soon as an unfinished line crosses the limit, before any newline', () => {
    const f = framer();
    const a = f.push(Buffer.from('z'.repeat(MAX - 1)));
    assert.equal(a.overflow, false);
    assert.equal(f.pendingBytes, MAX - 1);
    const b = f.push(Buffer.from('z'));
    assert.equal(b.overflow, false, 'exactly at the limit is still fine');
    assert.equal(f.pendingBytes, MAX);
    const c = f.push(Buffer.from('z'));
    assert.equal(c.overflow, true);
    assert.equal(f.pendingBytes, 0, 'the partial line is released');
  });

  test('keeps memory bounded while a 10 MB newline-free stream arrives in 64 KiB chunks', () => {
    const limit = 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const f = framer(limit);
    let firstOverflow = -1;
    let maxPending = 0;
    const chunks = Math.ceil((10 * 1024 * 1024) / chunk.length);
    for (let i = 0; i < chunks; i++) {
      const r = f.push(chunk);
      maxPending = Math.max(maxPending, f.pendingBytes);
      assert.ok(f.pendingBytes <= limit, `pendingBytes ${f.pendingBytes} > ${limit} after chunk ${i}`);
      assert.deepEqual(r.lines, []);
      if (r.overflow && firstOverflow === -1) firstOverflow = i;
      if (firstOverflow !== -1) assert.equal(r.overflow, true, `overflow stays reported (chunk ${i})`);
    }
    assert.equal(firstOverflow, 16, 'fails on the chunk that crosses 1 MiB (17 × 64 KiB)');
    assert.equal(maxPending, limit, 'buffered up to the limit and no further');
    assert.equal(f.pendingBytes, 0);
  });

  test('keeps memory bounded over a 10 MB stream of long lines that each fit', () => {
    const limit = 256 * 1024;
    const lineBytes = 200 * 1024 + 17; // does not divide the chunk size, so lines straddle chunks
    const lineCount = Math.ceil((10 * 1024 * 1024) / (lineBytes + 1));
    const line = Buffer.concat([Buffer.alloc(lineBytes, 0x62), Buffer.from('\n')]);
    const stream = Buffer.concat(Array.from({ length: lineCount }, () => line));
    const f = framer(limit);
    let lines = 0;
    for (const chunk of slices(stream, 64 * 1024)) {
      const r = f.push(chunk);
      assert.equal(r.overflow, false);
      assert.ok(f.pendingBytes <= limit, `pendingBytes ${f.pendingBytes} > ${limit}`);
      for (const l of r.lines) assert.equal(l.length, lineBytes);
      lines += r.lines.length;
    }
    assert.equal(lines, lineCount);
    assert.equal(f.pendingBytes, 0);
  });

  test('after overflow every later push reports overflow and yields nothing', () => {
    const f = framer();
    assert.equal(f.push(Buffer.from(`${'q'.repeat(MAX + 1)}\n`)).overflow, true);
    for (const later of ['{"ok":true}\n', 'a\nb\nc\n', '\n', '']) {
      const r = f.push(Buffer.from(later));
      assert.equal(r.overflow, true, `push of ${JSON.stringify(later)}`);
      assert.deepEqual(r.lines, []);
      assert.equal(r.invalidUtf8, 0);
    }
    assert.equal(f.pendingBytes, 0, 'a dead framer buffers nothing');
    f.push(Buffer.from('{"a":1}'));
    assert.equal(f.takeCompleteObject(1024), null, 'a dead framer hands over no one-shot object');
  });

  test('returns the lines completed before the overflowing line in the same chunk', () => {
    const r = framer().push(Buffer.from(`first\nsecond\n${'w'.repeat(MAX + 1)}\nthird\n`));
    assert.deepEqual(r.lines, ['first', 'second']);
    assert.equal(r.overflow, true);
  });
});

describe('LineFramer: invalid UTF-8', () => {
  const invalid: Array<[string, number[]]> = [
    ['bytes that never occur in UTF-8', [0xff, 0xfe]],
    ['a truncated two-byte sequence', [0x61, 0xc3]],
    ['an overlong encoding of "/"', [0xc0, 0xaf]],
    ['an encoded UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['a lone continuation byte', [0x7b, 0x80, 0x7d]],
  ];
  for (const [name, bytes] of invalid) {
    test(`counts a line with ${name} and does not decode it`, () => {
      const r = framer().push(Buffer.from([...bytes, 0x0a]));
      assert.equal(r.invalidUtf8, 1);
      assert.deepEqual(r.lines, []);
      assert.equal(r.overflow, false);
    });
  }

  test('lines after an invalid one still come through, in the same chunk and later', () => {
    const f = framer();
    const same = f.push(
      Buffer.concat([Buffer.from('{"n":1}\n'), Buffer.from([0xff, 0x0a]), Buffer.from('{"n":2}\n'), Buffer.from([0xc3, 0x0a])]),
    );
    assert.deepEqual(same.lines, ['{"n":1}', '{"n":2}']);
    assert.equal(same.invalidUtf8, 2);
    const later = f.push(Buffer.from('{"n":3}\n'));
    assert.deepEqual(later.lines, ['{"n":3}']);
    assert.equal(later.invalidUtf8, 0);
  });
});

describe('LineFramer.takeCompleteObject', () => {
  test('hands over a complete JSON object sent without a newline and clears the buffer', () => {
    const text = '{"message_type":"heartbeat","data":{"x":[1,2,"é"]}}';
    const f = framer(1024);
    assert.deepEqual(f.push(Buffer.from(text, 'utf8')).lines, []);
    const taken = f.takeCompleteObject(1024);
    assert.ok(taken);
    assert.equal(taken.line, text);
    assert.deepEqual(taken.value, { message_type: 'heartbeat', data: { x: [1, 2, 'é'] } });
    assert.equal(f.pendingBytes, 0);
    assert.deepEqual(f.push(Buffer.from('\n')).lines, [], 'the object is not delivered a second time');
  });

  test('hands over an object assembled from chunks, with trailing whitespace trimmed', () => {
    const f = framer(1024);
    f.push(Buffer.from('{"a":'));
    assert.equal(f.takeCompleteObject(1024), null);
    f.push(Buffer.from('1} \r'));
    const taken = f.takeCompleteObject(1024);
    assert.ok(taken);
    assert.equal(taken.line, '{"a":1}');
    assert.deepEqual(taken.value, { a: 1 });
  });

  for (const prefix of ['{"a":{"b":1}', '{"a":1,"b":"}"', '{"a":"}', '{']) {
    test(`returns null for the proper prefix ${prefix} and keeps it buffered`, () => {
      const f = framer(1024);
      f.push(Buffer.from(prefix));
      const before = f.pendingBytes;
      assert.equal(f.takeCompleteObject(1024), null);
      assert.equal(f.pendingBytes, before);
      assert.equal(before, Buffer.byteLength(prefix));
    });
  }

  test('a prefix left in place completes into the whole message once the rest arrives', () => {
    const f = framer(1024);
    f.push(Buffer.from('{"a":1,"b":"}"'));
    assert.equal(f.takeCompleteObject(1024), null);
    assert.deepEqual(f.push(Buffer.from('}\n')).lines, ['{"a":1,"b":"}"}']);
  });

  for (const text of ['[1,2]', '[{"a":1}]', '42', '"}"', 'null', 'true']) {
    test(`returns null for the non-object JSON ${text} and keeps it buffered`, () => {
      const f = framer(1024);
      f.push(Buffer.from(text));
      assert.equal(f.takeCompleteObject(1024), null);
      assert.equal(f.pendingBytes, text.length);
    });
  }

  test('returns null when the pending object is larger than maxBytes, and takes it at exactly maxBytes', () => {
    const text = '{"payload":"0123456789"}';
    const f = framer(1024);
    f.push(Buffer.from(text));
    assert.equal(f.takeCompleteObject(text.length - 1), null);
    assert.equal(f.pendingBytes, text.length);
    assert.deepEqual(f.takeCompleteObject(text.length)?.value, { payload: '0123456789' });
  });

  test('returns null when nothing is pending', () => {
    const f = framer(1024);
    assert.equal(f.takeCompleteObject(1024), null);
    f.push(Buffer.from('{"a":1}\n'));
    assert.equal(f.takeCompleteObject(1024), null, 'a newline-terminated frame was already delivered');
  });

  test('returns null for pending bytes that end in } but are not valid UTF-8', () => {
    const f = framer(1024);
    f.push(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])); // {"a":"\xff"}
    assert.equal(f.takeCompleteObject(1024), null);
    assert.equal(f.pendingBytes, 9);
  });
});
