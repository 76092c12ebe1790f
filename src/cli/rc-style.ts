/**
 * Colour for people, plain text for programs. Colour is used only when the
 * stream is a TTY and `NO_COLOR` is unset or empty (https://no-color.org).
 * Everything here is pure: callers pass the environment and the TTY flag.
 */

/** Where output goes: the bits of a stream that decide colour and redraws. */
export interface OutputTarget {
  isTTY?: boolean;
  columns?: number;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Whether to colour text written to a stream with this TTY flag under this environment. */
export function isColorEnabled(env: Env, isTTY: boolean | undefined): boolean {
  const noColor = env['NO_COLOR'];
  if (noColor !== undefined && noColor !== '') return false;
  return isTTY === true;
}

export interface Style {
  readonly enabled: boolean;
  dim(text: string): string;
  bold(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  blue(text: string): string;
  magenta(text: string): string;
  gray(text: string): string;
}

const CODES = {
  dim: [2, 22],
  bold: [1, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  gray: [90, 39],
} as const satisfies Record<string, readonly [number, number]>;

type StyleName = keyof typeof CODES;

/** ANSI styling when `enabled`, identity functions otherwise. */
export function createStyle(enabled: boolean): Style {
  const wrap = (name: StyleName) => (text: string): string => {
    if (!enabled) return text;
    const [open, close] = CODES[name];
    return `\u001b[${open}m${text}\u001b[${close}m`;
  };
  return {
    enabled,
    dim: wrap('dim'),
    bold: wrap('bold'),
    red: wrap('red'),
    green: wrap('green'),
    yellow: wrap('yellow'),
    blue: wrap('blue'),
    magenta: wrap('magenta'),
    gray: wrap('gray'),
  };
}

/** The style for text written to `stream` in this process's environment. */
export function styleFor(stream: OutputTarget, env: Env = process.env): Style {
  return createStyle(isColorEnabled(env, stream.isTTY));
}

/** Colour a pino level name the usual way: red for errors, yellow for warnings. */
export function colorLevel(style: Style, level: string, text: string = level): string {
  switch (level) {
    case 'fatal':
      return style.bold(style.magenta(text));
    case 'error':
      return style.red(text);
    case 'warn':
      return style.yellow(text);
    case 'info':
      return style.green(text);
    case 'debug':
      return style.blue(text);
    default:
      return style.gray(text);
  }
}
