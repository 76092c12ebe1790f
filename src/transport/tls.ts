import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../common/errors.js';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** SHA-256 of the certificate, upper-case hex with colons (what workers pin). */
  fingerprint256: string;
}

/** Read the master's certificate and key; null when TLS is off. Both or neither. */
export function loadTlsMaterial(certPath: string | null, keyPath: string | null): TlsMaterial | null {
  if (certPath === null && keyPath === null) return null;
  if (certPath === null || keyPath === null) throw new ConfigError(['tls_cert and tls_key go together: give both or neither']);
  const cert = readPem(certPath, 'tls_cert');
  const key = readPem(keyPath, 'tls_key');
  let fingerprint256: string;
  try {
    fingerprint256 = new X509Certificate(cert).fingerprint256;
  } catch (err) {
    throw new ConfigError([`tls_cert ${certPath}: not a PEM certificate (${(err as Error).message})`]);
  }
  return { cert, key, fingerprint256 };
}

function readPem(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError([`${key} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
}

/** Compare fingerprints whatever their case and colons. */
export function sameFingerprint(a: string, b: string): boolean {
  const norm = (s: string): string => s.replace(/:/g, '').toLowerCase();
  return norm(a) === norm(b);
}
