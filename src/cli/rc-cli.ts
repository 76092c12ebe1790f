import { Command } from 'commander';
import { packageVersion } from '../common/version.js';
import { CliExit, DEFAULT_MASTER, expectOk, MasterClient } from './http-client.js';
import { EXIT } from './run-main.js';
import { addTaskCommands } from './rc-tasks.js';

/** `rc`: every command talks HTTP to the master. Exit codes: 0 ok, 1 failed, 2 usage, 3 unreachable. */
export function main(argv: readonly string[]): void {
  const program = new Command('rc')
    .description('retire-cluster command line: talks HTTP to the master')
    .version(packageVersion())
    .option('--master <url>', `master HTTP address (env RC_MASTER, default ${DEFAULT_MASTER})`)
    .option('--data-dir <dir>', 'the master\'s data dir, to read its API token (env RC_DATA_DIR, default ./data)');
  const client = (): MasterClient => {
    const o = program.opts<{ master?: string; dataDir?: string }>();
    return new MasterClient({ master: o.master, dataDir: o.dataDir });
  };
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
      q.set('format', opts.json ? 'json' : 'text');
      const res = await client().get(`/text/devices?${q.toString()}`);
      expectOk(res);
      process.stdout.write(res.text);
    });
  program
    .command('health')
    .description('check that the master answers')
    .action(async () => {
      const res = await client().get('/health');
      expectOk(res);
      process.stdout.write(`${res.text}\n`);
    });
  addTaskCommands(program, client);
  program.exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage));
  program.parseAsync(argv as string[]).catch((err: unknown) => {
    const code = err instanceof CliExit ? err.exitCode : EXIT.failed;
    process.stderr.write(`rc: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(code);
  });
}
