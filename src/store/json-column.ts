/** A JSON object as stored in a TEXT column. */
export type JsonObject = Record<string, unknown>;

/**
 * Parses a JSON column that should hold an object. Returns undefined for
 * corrupt text or any other JSON value, so callers pick their own fallback.
 */
export function parseJsonObject(text: string): JsonObject | undefined {
  // Most labels and requirements are empty; a restart reads 100k of each.
  if (text === '{}') return {};
  const value = parseJson(text);
  return isJsonObject(value) ? value : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
