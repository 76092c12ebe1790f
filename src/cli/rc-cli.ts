import { Command } from 'commander';
import { packageVersion } from '../common/version.js';
import { EXIT } from './run-main.js';

const DEFAULT_MASTER = 'http://127.0.0.1:5000';

function masterUrl(opts: { master?: string }): string {
  return (opts.master ?? process.env['RC_MASTER'] ?? DEFAULT_MASTER).replace(/\/+$/, '');
}

/** GET a text view and print it; exit 3 when the master cannot be reached. */
async function printText(base: string, path: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`);
  } catch (err) {
    process.stderr.write(`rc: master unreachable at ${base}: ${(err as Error).cause ?? (err as Error).message}\n`);
    process.exit(EXIT.unreachable);
  }
  const body = await res.text();
  if (!res.ok) {
    process.stderr.write(`rc: ${res.status} ${body}\n`);
    process.exit(EXIT.failed);
  }
  process.stdout.write(body);
}

export function main(argv: readonly string[]): void {
  const program = new Command('rc')
    .description('retire-cluster command line: talks HTTP to the master')
    .version(packageVersion())
    .option('--master <url>', `master HTTP address (env RC_MASTER, default ${DEFAULT_MASTER})`);
  program
    .command('devices')
    .description('list devices')
    .option('--status <s>', 'online|suspect|offline|all')
    .option('--role <r>', 'only this role')
    .option('--json', 'JSON instead of a table')
    .action(async (opts: { status?: string; role?: string; json?: boolean }) => {
      const q = new URLSearchParams();
      if (opts.status) q.set('status', opts.status);
      if (opts.role) q.set('role', opts.role);
      if (opts.json) q.set('format', 'json');
      await printText(masterUrl(program.opts()), `/text/devices?${q.toString()}`);
    });
  program
    .command('health')
    .description('check that the master answers')
    .action(async () => printText(masterUrl(program.opts()), '/health'));
  program.exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage));
  void program.parseAsync(argv as string[]);
}
