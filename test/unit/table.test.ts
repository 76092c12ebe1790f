import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CONTENT_TYPES, negotiateFormat, renderTable, type Column } from '../../src/http/render/table.js';

interface Row {
  id: string;
  role: string;
  cpus: number | null;
  mem: number | null;
  note: string | null;
}

const COLUMNS: readonly Column<Row>[] = [
  { header: 'DEVICE', key: 'device_id', value: (r) => r.id },
  { header: 'ROLE', key: 'role', value: (r) => r.role },
  { header: 'CPUS', key: 'cpu_count', value: (r) => r.cpus, alignRight: true },
  { header: 'MEM GB', key: 'memory_total_gb', value: (r) => r.mem, alignRight: true },
  { header: 'NOTE', key: 'note', value: (r) => r.note },
];

const ROWS: Row[] = [
  { id: 'rpi4-garage', role: 'worker', cpus: 4, mem: 3.7, note: 'shelf' },
  { id: 'old-laptop', role: 'compute-heavy', cpus: 12, mem: 15.5, note: null },
  { id: 'p', role: 'mobile', cpus: null, mem: null, note: 'battery' },
];

/** RFC 4180 reader: quoted fields may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (c === '"') {
        quoted = false;
        i++;
      } else {
        field += c;
        i++;
      }
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      i++;
    } else if (c === ',') {
      record.push(field);
      field = '';
      i++;
    } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i += c === '\r' ? 2 : 1;
    } else if (c === '"') {
      throw new Error(`bare quote inside an unquoted field at ${i}`);
    } else {
      field += c;
      i++;
    }
  }
  if (quoted) throw new Error('unterminated quoted field');
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}

/** Where each column starts (left-aligned) or ends (right-aligned) in the header line. */
function headerAnchors(header: string): number[] {
  let from = 0;
  return COLUMNS.map((c) => {
    const at = header.indexOf(c.header, from);
    assert.ok(at >= 0, `header ${c.header} in ${JSON.stringify(header)}`);
    from = at + c.header.length;
    return c.alignRight ? at + c.header.length : at;
  });
}

describe('renderTable text', () => {
  const out = renderTable(COLUMNS, ROWS, 'text');
  const lines = out.split('\n');

  test('renders the expected table', () => {
    assert.equal(
      out,
      [
        'DEVICE       ROLE           CPUS  MEM GB  NOTE',
        'rpi4-garage  worker            4     3.7  shelf',
        'old-laptop   compute-heavy    12    15.5  -',
        'p            mobile            -       -  battery',
        '',
      ].join('\n'),
    );
  });

  test('has one line per row plus the header, ending in a newline', () => {
    assert.ok(out.endsWith('\n'));
    assert.equal(lines.length, ROWS.length + 2); // header + rows + '' after the final newline
  });

  test("every row's cells start at the header's offset; right-aligned cells end at the header's end", () => {
    const anchors = headerAnchors(lines[0]!);
    ROWS.forEach((row, r) => {
      const line = lines[r + 1]!;
      COLUMNS.forEach((col, c) => {
        const raw = col.value(row);
        const cell = raw === null ? '-' : String(raw);
        const anchor = anchors[c]!;
        if (col.alignRight) {
          assert.equal(line.slice(anchor - cell.length, anchor), cell, `row ${r} ${col.header}`);
          assert.ok(anchor === line.length || line[anchor] === ' ', `row ${r} ${col.header} ends at ${anchor}`);
        } else {
          assert.equal(line.slice(anchor, anchor + cell.length), cell, `row ${r} ${col.header}`);
          assert.ok(anchor === 0 || line[anchor - 1] === ' ', `row ${r} ${col.header} starts at ${anchor}`);
        }
      });
    });
  });

  test('right-aligns numeric columns', () => {
    const anchors = headerAnchors(lines[0]!);
    const cpuEnd = anchors[2]!;
    assert.equal(lines[1]!.slice(cpuEnd - 4, cpuEnd), '   4');
    assert.equal(lines[2]!.slice(cpuEnd - 4, cpuEnd), '  12');
  });

  test('shows null as -', () => {
    const p = lines[3]!.split(/\s+/);
    assert.deepEqual(p, ['p', 'mobile', '-', '-', 'battery']);
  });

  test('has no trailing spaces', () => {
    for (const line of lines) assert.equal(line, line.trimEnd());
  });

  test('control characters in values do not break lines or columns', () => {
    const rows: Row[] = [
      { id: 'evil\nhost', role: 'a\rb', cpus: 1, mem: 1, note: 'tab\there\u001b[31mred\u007f' },
      { id: 'ok', role: 'worker', cpus: 2, mem: 2, note: 'fine' },
    ];
    const text = renderTable(COLUMNS, rows, 'text');
    const got = text.split('\n');
    assert.equal(got.length, rows.length + 2);
    assert.equal(/[\u0000-\u0009\u000b-\u001f\u007f]/.test(text), false, JSON.stringify(text));
    assert.ok(got[1]!.startsWith('evil host'));
    const anchors = headerAnchors(got[0]!);
    assert.equal(got[2]!.slice(anchors[4]!), 'fine', 'NOTE column still lines up after the dirty row');
  });

  test('an empty table is just the header', () => {
    assert.equal(renderTable(COLUMNS, [], 'text'), 'DEVICE  ROLE  CPUS  MEM GB  NOTE\n');
  });
});

describe('renderTable csv', () => {
  const tricky: Row[] = [
    { id: 'a,b', role: 'say "hi"', cpus: 1, mem: 0.5, note: 'line1\nline2' },
    { id: ' spaced ', role: 'cr\r\nlf', cpus: null, mem: null, note: null },
    { id: '"', role: '', cpus: 0, mem: 2, note: ',,"\n"' },
  ];

  test('uses the column keys as the header', () => {
    assert.equal(renderTable(COLUMNS, [], 'csv'), 'device_id,role,cpu_count,memory_total_gb,note\n');
  });

  test('quotes commas, quotes and newlines so values round-trip through an RFC 4180 parser', () => {
    const records = parseCsv(renderTable(COLUMNS, tricky, 'csv'));
    assert.deepEqual(records, [
      ['device_id', 'role', 'cpu_count', 'memory_total_gb', 'note'],
      ['a,b', 'say "hi"', '1', '0.5', 'line1\nline2'],
      [' spaced ', 'cr\r\nlf', '', '', ''],
      ['"', '', '0', '2', ',,"\n"'],
    ]);
  });

  test('leaves plain values unquoted', () => {
    const csv = renderTable(COLUMNS, [ROWS[0]!], 'csv');
    assert.equal(csv.split('\n')[1], 'rpi4-garage,worker,4,3.7,shelf');
  });

  test('doubles quotes inside a quoted value', () => {
    const csv = renderTable(COLUMNS, [tricky[0]!], 'csv');
    assert.ok(csv.includes('"say ""hi"""'), csv);
  });
});

describe('renderTable tsv', () => {
  test('replaces tabs and newlines in values so every record is one line with one field per column', () => {
    const rows: Row[] = [
      { id: 'a\tb', role: 'x\ny', cpus: 3, mem: null, note: 'c\r\nd' },
      { id: 'plain', role: 'worker', cpus: null, mem: 1.5, note: null },
    ];
    const tsv = renderTable(COLUMNS, rows, 'tsv');
    const lines = tsv.split('\n');
    assert.equal(tsv.endsWith('\n'), true);
    assert.equal(lines.length, rows.length + 2);
    assert.equal(tsv.includes('\r'), false);
    assert.deepEqual(lines.slice(0, -1).map((l) => l.split('\t')), [
      ['device_id', 'role', 'cpu_count', 'memory_total_gb', 'note'],
      ['a b', 'x y', '3', '', 'c  d'],
      ['plain', 'worker', '', '1.5', ''],
    ]);
  });
});

describe('renderTable json', () => {
  test('parses back to the same records, keyed by column key, nulls kept', () => {
    const out = renderTable(COLUMNS, ROWS, 'json');
    assert.ok(out.endsWith('\n'));
    assert.deepEqual(JSON.parse(out), [
      { device_id: 'rpi4-garage', role: 'worker', cpu_count: 4, memory_total_gb: 3.7, note: 'shelf' },
      { device_id: 'old-laptop', role: 'compute-heavy', cpu_count: 12, memory_total_gb: 15.5, note: null },
      { device_id: 'p', role: 'mobile', cpu_count: null, memory_total_gb: null, note: 'battery' },
    ]);
  });

  test('keeps control characters intact (JSON escapes them)', () => {
    const out = renderTable(COLUMNS, [{ id: 'a\nb', role: 'r', cpus: 1, mem: 1, note: '\t' }], 'json');
    assert.equal(out.indexOf('\n'), out.length - 1);
    assert.equal((JSON.parse(out) as Array<{ device_id: string }>)[0]!.device_id, 'a\nb');
  });

  test('an empty table is an empty array', () => {
    assert.deepEqual(JSON.parse(renderTable(COLUMNS, [], 'json')), []);
  });
});

describe('negotiateFormat', () => {
  test('the query parameter wins over the Accept header', () => {
    assert.equal(negotiateFormat('csv', 'application/json'), 'csv');
    assert.equal(negotiateFormat('text', 'text/csv'), 'text');
    assert.equal(negotiateFormat('tsv', undefined), 'tsv');
    assert.equal(negotiateFormat('json', undefined), 'json');
  });

  test('an unknown query format gives null', () => {
    assert.equal(negotiateFormat('xml', 'application/json'), null);
    assert.equal(negotiateFormat('CSV', undefined), null);
    assert.equal(negotiateFormat('', undefined), null);
  });

  test('without a query parameter the Accept header picks json, csv or tsv', () => {
    assert.equal(negotiateFormat(undefined, 'application/json'), 'json');
    assert.equal(negotiateFormat(undefined, 'application/json; charset=utf-8'), 'json');
    assert.equal(negotiateFormat(undefined, 'text/csv'), 'csv');
    assert.equal(negotiateFormat(undefined, 'text/tab-separated-values'), 'tsv');
  });

  test('defaults to text', () => {
    assert.equal(negotiateFormat(undefined, undefined), 'text');
    assert.equal(negotiateFormat(undefined, '*/*'), 'text');
    assert.equal(negotiateFormat(undefined, 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8'), 'text');
  });

  test('each format has a content type with a utf-8 charset', () => {
    assert.equal(CONTENT_TYPES.csv, 'text/csv; charset=utf-8');
    assert.equal(CONTENT_TYPES.tsv, 'text/tab-separated-values; charset=utf-8');
    assert.equal(CONTENT_TYPES.json, 'application/json; charset=utf-8');
    assert.equal(CONTENT_TYPES.text, 'text/plain; charset=utf-8');
  });
});
