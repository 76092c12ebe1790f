/**
 * `Date#toISOString`, formatted from the UTC fields. V8 (11.x, Node 20) looks
 * up the local time zone's display name even for the ISO form, which pages in
 * ICU's zone-name tables: about 0.6 MB of a phone worker's RSS for a string
 * that never names a zone. The UTC getters do not touch ICU.
 */
const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** `new Date(ms).toISOString()`, the same string, for any ms of years 0000–9999 (else the built-in). */
export function isoTime(ms: number): string {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  // Outside 4 digits the ISO form needs a sign and 6 digits; the built-in is right there, and rare.
  if (!(year >= 0 && year <= 9999)) return d.toISOString();
  const msPart = d.getUTCMilliseconds();
  return `${String(year).padStart(4, '0')}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${msPart < 10 ? '00' : msPart < 100 ? '0' : ''}${msPart}Z`;
}
