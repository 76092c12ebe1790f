import { Command } from 'commander';
import { packageVersion } from '../common/version.js';
import { CliExit, DEFAULT_MASTER, MasterClient } from './http-client.js';
import { addClusterCommands } from './rc-devices.js';
import { addLogsCommand } from './rc-logs.js';
import { addTaskCommands } from './rc-tasks.js';
import { EXIT } from './run-main.js';

/** `rc`: every command talks HTTP to the master. Exit codes: 0 ok, 1 failed, 2 usage, 3 unreachable. */
export function main(argv: readonly string[]): void {
  const program = new Command('rc')
    .description('retire-cluster command line: talks HTTP to the master')
    .version(packageVersion())
    .option('--master <url>', `master HTTP address (env RC_MASTER, default ${DEFAULT_MASTER})`)
    .option('--data-dir <dir>', 'the master\'s data dir, to read its API token (env RC_DATA_DIR, default ./data)')
    // Before any .command(): subcommands copy these settings when they are created.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage))
    .showHelpAfterError('(rc --help lists the commands)');
  const client = (): MasterClient => {
    const o = program.opts<{ master?: string; dataDir?: string }>();
    return new MasterClient({ master: o.master, dataDir: o.dataDir });
  };
  addClusterCommands(program, client);
  addTaskCommands(program, client);
  addLogsCommand(program, client);
  // `rc logs | head`: the reader went away; that is the end of the job, not a crash.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? EXIT.ok : EXIT.failed));
  program.parseAsync(argv as string[]).catch((err: unknown) => {
    const code = err instanceof CliExit ? err.exitCode : EXIT.failed;
    process.stderr.write(`rc: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(code);
  });
}
