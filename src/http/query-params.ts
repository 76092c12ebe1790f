import { RcError } from '../common/errors.js';
import { negotiateFormat, TABLE_FORMATS, type TableFormat } from './render/table.js';

/** A parsed query string as fastify hands it over: a repeated key gives an array. */
export type RawQuery = Record<string, unknown>;

export function badRequest(message: string): RcError {
  return new RcError('RC_ERR_HTTP_BAD_REQUEST', message, { status: 400 });
}

/**
 * Refuse parameters a route does not know: a misspelt filter (`?stauts=online`)
 * must not quietly answer with everything.
 */
export function assertKnownParams(query: RawQuery, allowed: readonly string[]): void {
  const unknown = Object.keys(query).filter((key) => !allowed.includes(key));
  if (unknown.length === 0) return;
  const takes = allowed.length === 0 ? 'no parameters' : allowed.join(', ');
  throw badRequest(`unknown query parameter ${unknown.join(', ')}; this endpoint takes ${takes}`);
}

/** One value of a parameter; giving it twice is an error (which one would win?). An empty value is one too. */
export function oneParam(query: RawQuery, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badRequest(`${name} may be given once`);
  if (value === '') throw badRequest(`${name} must not be empty`);
  return value;
}

/** Every value of a repeatable, comma-separated parameter (`tag=a,b&tag=c`), or undefined when absent. */
export function listParam(query: RawQuery, name: string): string[] | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  const items = (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(',')).map((v) => v.trim());
  if (items.some((v) => v === '')) throw badRequest(`${name} must not hold an empty value`);
  return items;
}

/** An integer parameter within [min, max] (digits only), or undefined when absent. */
export function intParam(query: RawQuery, name: string, range: { min: number; max: number }): number | undefined {
  const text = oneParam(query, name);
  if (text === undefined) return undefined;
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < range.min || value > range.max) {
    throw badRequest(`${name} must be an integer from ${range.min} to ${range.max}`);
  }
  return value;
}

/** `?format=` (given once) or else the Accept header; 400 for a format no table has. */
export function tableFormat(query: RawQuery, accept: string | undefined): TableFormat {
  const format = negotiateFormat(oneParam(query, 'format'), accept);
  if (format === null) throw badRequest(`format must be one of ${TABLE_FORMATS.join(', ')}`);
  return format;
}
