/**
 * Reads the JSON files of protocol/ (the schemas). It is the only module that
 * touches protocol/ on disk: the one-file worker bundle (src/tools/
 * bundle-worker.ts) swaps it for a module with every file inlined, so the
 * bundle runs from an empty directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Finds the directory holding `schema/` and `examples/`. Walks up because the
 * source runs from src/protocol/ and the build from dist/src/protocol/.
 */
function findProtocolDir(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'protocol', 'schema', 'envelope.schema.json'))) return join(dir, 'protocol');
    if (dirname(dir) === dir) throw new Error(`protocol/schema not found above ${start}`);
  }
}

/** Absolute path of protocol/ (schemas, examples) in the package. */
export const PROTOCOL_DIR: string = findProtocolDir(dirname(fileURLToPath(import.meta.url)));

/** `relPath` below protocol/, e.g. `schema/heartbeat.schema.json`, parsed. */
export function readProtocolJson(relPath: string): unknown {
  return JSON.parse(readFileSync(join(PROTOCOL_DIR, relPath), 'utf8'));
}
