import { colorLevel, type Style } from './rc-style.js';

/** pino's level names by number. */
export const LOG_LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
export type LogLevelName = keyof typeof LOG_LEVELS;

/** Fields that the line shows in fixed places, or that say nothing to a person reading it. */
const SHOWN_ELSEWHERE = new Set(['level', 'time', 'msg', 'component', 'name', 'pid', 'hostname', 'v']);

export function isLogLevelName(text: string): text is LogLevelName {
  return Object.hasOwn(LOG_LEVELS, text);
}

/** The level's name (`info`) from pino's number (30) or a label; unknown numbers print as `L35`. */
export function levelName(level: unknown): string {
  if (typeof level === 'string') return level.toLowerCase();
  if (typeof level !== 'number') return '?';
  const found = Object.entries(LOG_LEVELS).find(([, n]) => n === level);
  return found ? found[0] : `L${level}`;
}

/** The level as pino's number, so lines can be compared with a minimum. */
export function levelNumber(level: unknown): number {
  if (typeof level === 'number') return level;
  return typeof level === 'string' && isLogLevelName(level.toLowerCase()) ? LOG_LEVELS[level.toLowerCase() as LogLevelName] : 0;
}

/** Local wall-clock time of day, `HH:MM:SS.mmm`. */
export function formatClock(time: unknown): string {
  const date = typeof time === 'number' || typeof time === 'string' ? new Date(time) : new Date(NaN);
  if (Number.isNaN(date.getTime())) return '--:--:--.---';
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

/** `HH:MM:SS.mmm LEVEL component msg key=value…` for one pino log object. */
export function formatLogLine(entry: Readonly<Record<string, unknown>>, style: Style): string {
  const name = levelName(entry['level']);
  const component = entry['component'] ?? entry['name'] ?? '-';
  const parts = [
    style.dim(formatClock(entry['time'])),
    colorLevel(style, name, name.toUpperCase().padEnd(5)),
    style.bold(String(component)),
    String(entry['msg'] ?? ''),
  ];
  for (const [key, value] of Object.entries(entry)) {
    if (SHOWN_ELSEWHERE.has(key) || value === undefined) continue;
    parts.push(`${style.gray(`${key}=`)}${formatValue(key, value)}`);
  }
  return parts.join(' ');
}

/** A /text/logs row (`time, level, component, msg, fields`), whose fields the master already wrote as `key=value…`. */
export function formatLogRow(row: Readonly<Record<string, unknown>>, style: Style): string {
  const { fields, ...entry } = row;
  const line = formatLogLine(entry, style);
  return typeof fields === 'string' && fields !== '' ? `${line} ${fields}` : line;
}

function formatValue(key: string, value: unknown): string {
  // pino serialises errors as {type, message, stack}; the message is what a person needs on one line.
  if (key === 'err' && typeof value === 'object' && value !== null && 'message' in value) {
    return JSON.stringify(String((value as { message: unknown }).message));
  }
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}
