import { renderTable, type Column } from '../http/render/table.js';
import type { Style } from './rc-style.js';

type Json = Record<string, unknown>;
type Cell = string | number | boolean | null;

/** Keys that hold the lists shown as their own sections, not as `key: value` lines. */
const SECTION_KEYS = new Set(['device', 'recent_heartbeats', 'recent_events', 'events']);
const TIME_KEYS = ['timestamp', 'time', 'ts', 'at', 'created_at'];
const KIND_KEYS = ['kind', 'event', 'type'];

/**
 * `rc device ID` for people: the device as aligned `key: value` lines, then
 * its recent heartbeat metrics as a table (one row per heartbeat, newest
 * first, one column per metric), then its recent events. Accepts the device
 * at the top level or under `device`.
 */
export function formatDevice(body: Json, style: Style): string {
  const device = isRecord(body['device']) ? body['device'] : body;
  const heartbeats = records(body['recent_heartbeats'] ?? device['recent_heartbeats']);
  const events = records(body['recent_events'] ?? body['events'] ?? device['recent_events'] ?? device['events']);
  const sections = [keyValueLines(device, style)];
  sections.push(heartbeats.length === 0 ? 'recent metrics: none' : `recent metrics:\n${metricsTable(heartbeats)}`);
  if (events.length > 0) sections.push(`recent events:\n${eventLines(events).join('\n')}`);
  return `${sections.map((s) => s.trimEnd()).join('\n\n')}\n`;
}

function keyValueLines(device: Json, style: Style): string {
  const entries = Object.entries(device).filter(([k]) => !SECTION_KEYS.has(k));
  const width = Math.max(0, ...entries.map(([k]) => k.length)) + 2;
  return entries
    .map(([k, v]) => {
      const text = formatValue(v);
      return `${`${k}:`.padEnd(width)}${k === 'status' ? colorStatus(style, text) : text}`;
    })
    .join('\n');
}

function colorStatus(style: Style, status: string): string {
  if (status === 'online') return style.green(status);
  if (status === 'suspect') return style.yellow(status);
  return status === 'offline' ? style.red(status) : status;
}

/** The heartbeats as aligned columns: TIME, then each metric any heartbeat carried. */
export function metricsTable(heartbeats: readonly Json[]): string {
  const keys: string[] = [];
  for (const h of heartbeats) for (const k of Object.keys(metricsOf(h))) if (!keys.includes(k)) keys.push(k);
  const columns: Column<Json>[] = [
    { header: 'TIME', key: 'timestamp', value: (h) => cell(pick(h, TIME_KEYS)) },
    ...keys.map((k) => ({
      header: k.toUpperCase(),
      key: k,
      value: (h: Json) => cell(metricsOf(h)[k]),
      alignRight: heartbeats.some((h) => typeof metricsOf(h)[k] === 'number'),
    })),
  ];
  return renderTable(columns, heartbeats, 'text');
}

function eventLines(events: readonly Json[]): string[] {
  const kinds = events.map((e) => formatValue(pick(e, KIND_KEYS)));
  const width = Math.max(...kinds.map((k) => k.length));
  return events.map((event, i) => {
    const time = formatValue(pick(event, TIME_KEYS));
    // `detail` is a bag of extra fields: show them inline like the rest.
    const { detail, ...fields } = event;
    const extra = Object.entries({ ...fields, ...(isRecord(detail) ? detail : { detail }) })
      .filter(([k, v]) => !TIME_KEYS.includes(k) && !KIND_KEYS.includes(k) && k !== 'device_id' && v !== null && v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
    return `  ${[time, kinds[i]!.padEnd(width), ...extra].join('  ')}`.trimEnd();
  });
}

function metricsOf(heartbeat: Json): Json {
  return isRecord(heartbeat['metrics']) ? heartbeat['metrics'] : {};
}

function pick(record: Json, keys: readonly string[]): unknown {
  for (const k of keys) if (record[k] !== undefined) return record[k];
  return null;
}

function cell(v: unknown): Cell {
  if (v === undefined || v === null) return null;
  return typeof v === 'object' ? JSON.stringify(v) : (v as Cell);
}

function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (Array.isArray(v)) return v.length === 0 ? '-' : v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ');
  if (isRecord(v)) return Object.entries(v).map(([k, x]) => `${k}=${typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x)}`).join(' ') || '-';
  return String(v);
}

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function records(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}
