import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DEVICE_ID_FILE = 'device-id';
const VALID_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * A device id that survives restarts: made once from the hostname plus a
 * random suffix (two retired phones are often both called "localhost"), then
 * kept in the worker's data dir.
 */
export function loadOrCreateDeviceId(dataDir: string, hostname: string): string {
  const file = join(dataDir, DEVICE_ID_FILE);
  const existing = readIdFile(file);
  if (existing !== null) return existing;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const id = `${slug(hostname)}-${randomBytes(3).toString('hex')}`;
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}

function readIdFile(file: string): string | null {
  try {
    const id = readFileSync(file, 'utf8').trim();
    return VALID_ID.test(id) ? id : null;
  } catch {
    return null;
  }
}

function slug(hostname: string): string {
  const s = hostname.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  return s.length > 0 ? s : 'device';
}
