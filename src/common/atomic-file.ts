import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';

/**
 * Replace `file` with `text` whole or not at all: a temp file beside it,
 * written and fsynced, then renamed over it. A process killed mid-write, or
 * a reader at the wrong moment, never sees half a file. With `mode` the file
 * gets exactly that mode, even if a stale temp file had another.
 */
export function writeFileAtomic(file: string, text: string, mode?: number): void {
  const temp = `${file}.tmp`;
  const fd = openSync(temp, 'w', mode ?? 0o666);
  try {
    if (mode !== undefined) fchmodSync(fd, mode);
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
}
