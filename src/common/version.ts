import { readFileSync } from 'node:fs';
import { findPackageRoot } from './package-root.js';

let cached: string | null = null;

/** The package version from package.json, read once. */
export function packageVersion(): string {
  if (cached !== null) return cached;
  const pkg = JSON.parse(readFileSync(`${findPackageRoot()}/package.json`, 'utf8')) as { version?: string };
  cached = pkg.version ?? '0.0.0';
  return cached;
}
