import { isRcError } from '../common/errors.js';

/** Exit codes shared by every CLI (issue: rc exit codes). */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

/**
 * Run a CLI entry point: configuration and usage errors print one clear block
 * and exit 2; anything else that escapes prints one line and exits 1.
 */
export function runMain(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (isRcError(err) && err.code === 'RC_ERR_CONFIG') {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(EXIT.usage);
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${name}: ${message}\n`);
    process.exit(EXIT.failed);
  });
}

/** Close cleanly on SIGINT/SIGTERM; a second signal forces the exit. */
export function onShutdownSignal(close: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(130);
    stopping = true;
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`shutdown after ${signal} failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** commander gives only the options the user set when defaults are left out of the definitions. */
export function givenOptions(opts: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
}
