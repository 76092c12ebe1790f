export type TableFormat = 'text' | 'json' | 'csv' | 'tsv';

export const TABLE_FORMATS: readonly TableFormat[] = ['text', 'json', 'csv', 'tsv'];

export interface Column<Row> {
  header: string;
  /** Key used in json/csv/tsv output. */
  key: string;
  value(row: Row): string | number | boolean | null;
  /** Right-align in text output (numbers). */
  alignRight?: boolean;
  /** Show numbers with this many decimals in text output (machine formats keep the number). */
  decimals?: number;
}

export const CONTENT_TYPES: Record<TableFormat, string> = {
  text: 'text/plain; charset=utf-8',
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  tsv: 'text/tab-separated-values; charset=utf-8',
};

/** Render rows for people (aligned columns) or programs (json/csv/tsv). */
export function renderTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[], format: TableFormat): string {
  switch (format) {
    case 'text':
      return renderText(columns, rows);
    case 'json':
      return `${JSON.stringify(rows.map((row) => toRecord(columns, row)))}\n`;
    case 'csv':
      return renderDelimited(columns, rows, ',', csvCell);
    case 'tsv':
      return renderDelimited(columns, rows, '\t', tsvCell);
  }
}

function renderText<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((c) => textCell(c.value(row), c.decimals)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]): string =>
    values.map((v, i) => (columns[i]!.alignRight ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

function renderDelimited<Row>(
  columns: readonly Column<Row>[],
  rows: readonly Row[],
  sep: string,
  cell: (v: string | number | boolean | null) => string,
): string {
  const lines = [columns.map((c) => c.key).join(sep)];
  for (const row of rows) lines.push(columns.map((c) => cell(c.value(row))).join(sep));
  return lines.join('\n') + '\n';
}

function toRecord<Row>(columns: readonly Column<Row>[], row: Row): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of columns) out[c.key] = c.value(row);
  return out;
}

function textCell(v: string | number | boolean | null, decimals?: number): string {
  if (typeof v === 'number' && decimals !== undefined) return v.toFixed(decimals);
  // Control characters from a device's self-description must not break the table.
  return v === null ? '-' : String(v).replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}

/** RFC 4180: quote when needed, double the quotes. */
function csvCell(v: string | number | boolean | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** TSV cannot escape, so tabs and newlines become spaces. */
function tsvCell(v: string | number | boolean | null): string {
  return v === null ? '' : String(v).replace(/[\t\r\n]/g, ' ');
}

/** ?format= wins; otherwise the Accept header; otherwise text. Returns null for an unknown format. */
export function negotiateFormat(queryFormat: unknown, accept: string | undefined): TableFormat | null {
  if (typeof queryFormat === 'string') {
    return (TABLE_FORMATS as readonly string[]).includes(queryFormat) ? (queryFormat as TableFormat) : null;
  }
  if (accept?.includes('application/json')) return 'json';
  if (accept?.includes('text/csv')) return 'csv';
  if (accept?.includes('text/tab-separated-values')) return 'tsv';
  return 'text';
}
