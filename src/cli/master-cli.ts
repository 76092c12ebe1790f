import { Command } from 'commander';
import { resolveMasterConfig } from '../common/config.js';
import { createLogger } from '../common/logger.js';
import { packageVersion } from '../common/version.js';
import { destination as pinoDestination, multistream } from 'pino';
import { LogFeed } from '../master/log-feed.js';
import { Master } from '../master/master.js';
import { JOIN_TOKEN_FILE, writeNewSecret } from '../master/secrets.js';
import { join } from 'node:path';
import { backupDatabase, openStore, STORE_FILE_NAME } from '../store/index.js';
import { givenOptions, onShutdownSignal, runMain } from './run-main.js';

/** Flags only; defaults live in the config module so that the layering is in one place. */
function buildProgram(): Command {
  return new Command('rc-master')
    .description('retire-cluster master: device registry, task queue and HTTP API')
    .version(packageVersion())
    .option('--host <addr>', 'TCP address for workers (default 0.0.0.0)')
    .option('--port <n>', 'TCP port for workers; 0 = ephemeral (default 8080)')
    .option('--http-host <addr>', 'HTTP address (default 0.0.0.0)')
    .option('--http-port <n>', 'HTTP port; 0 = ephemeral (default 5000)')
    .option('--data-dir <dir>', 'where the database and master.json live (default ./data)')
    .option('--config <file>', 'JSON config file (see config/master.example.json)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (default info)')
    .option('--heartbeat-interval <seconds>', 'how often workers heartbeat (default 15)')
    .option('--offline-after <seconds>', 'silence after which a device is offline (default 60)')
    .option('--lost-after <seconds>', 'silence after which a device\'s tasks move (default 120)')
    .option('--max-line-bytes <n>', 'longest wire frame accepted (default 1048576)')
    .option('--join-token <token>', 'token workers must prove to join (env RC_JOIN_TOKEN)')
    .option('--api-token <token>', 'bearer token for HTTP writes (env RC_API_TOKEN)')
    .option('--insecure', 'let devices join without a token (lab use only)')
    .option('--lease <seconds>', 'an assigned task must start within this (default 60)')
    .option('--aging-step <seconds>', 'a waiting task gains one priority level per step (default 300; 0 = off)')
    .option('--max-connections <n>', 'wire connections at once (default 20000)')
    .option('--tls-cert <file>', 'PEM certificate: serve TLS on the worker port and HTTP')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--auth-reads', 'HTTP reads need the API token too (all but /health)')
    .option('--store-max-size <MiB>', 'cap the database size; writes beyond it fail like on a full disk (default: no cap)');
}

export function main(argv: readonly string[]): void {
  // Positional options: `rotate-token --data-dir X` belongs to the subcommand, not the server.
  const program = buildProgram().enablePositionalOptions();
  program.action(() => runMain('rc-master', () => startMaster(givenOptions(program.opts()))));
  program
    .command('rotate-token')
    .description('replace the join token in the data dir; enrolled devices keep working')
    .option('--data-dir <dir>', 'the master\'s data dir (default ./data)')
    .option('--config <file>', 'JSON config file')
    .action((opts: Record<string, unknown>) => runMain('rc-master', async () => rotateToken(givenOptions(opts))));
  program
    .command('backup <file>')
    .description('write an online, consistent copy of the database to FILE (the master may keep running)')
    .option('--data-dir <dir>', 'the master\'s data dir (default ./data)')
    .option('--config <file>', 'JSON config file')
    .option('--force', 'overwrite FILE if it exists')
    .action((file: string, opts: Record<string, unknown>) => runMain('rc-master', () => backup(file, givenOptions(opts))));
  program.parse(argv as string[]);
}

async function backup(file: string, flags: Record<string, unknown>): Promise<void> {
  const { force, ...rest } = flags;
  const config = resolveMasterConfig({ flags: rest, env: process.env, configPath: rest['config'] as string | undefined });
  const source = join(config.data_dir, STORE_FILE_NAME);
  const showProgress = process.stderr.isTTY === true;
  const summary = await backupDatabase(source, file, {
    force: force === true,
    onProgress: ({ totalPages, remainingPages }) => {
      if (showProgress) process.stderr.write(`\rbacking up: ${Math.round((100 * (totalPages - remainingPages)) / Math.max(1, totalPages))}%`);
    },
  });
  if (showProgress) process.stderr.write('\n');
  const mb = (summary.bytes / 1024 / 1024).toFixed(1);
  process.stdout.write(`backup written: ${summary.file}  ${mb} MiB  ${summary.tasks} tasks  ${summary.devices} devices  quick_check ok\n`);
}

/** Devices already enrolled prove their own secret, so only new joins need the new token. */
function rotateToken(flags: Record<string, unknown>): void {
  const config = resolveMasterConfig({ flags, env: process.env, configPath: flags['config'] as string | undefined });
  if (config.join_token !== null) {
    process.stderr.write('rc-master: the join token is set by --join-token / RC_JOIN_TOKEN / the config file; change it there instead\n');
    process.exitCode = 2;
    return;
  }
  const token = writeNewSecret(config.data_dir, JOIN_TOKEN_FILE);
  process.stdout.write(`new join token (also in ${join(config.data_dir, JOIN_TOKEN_FILE)}):\n${token}\n`);
}

async function startMaster(flags: Record<string, unknown>): Promise<void> {
  const config = resolveMasterConfig({ flags, env: process.env, configPath: flags['config'] as string | undefined });
  const logs = new LogFeed();
  // Every log line goes to stdout and to the feed behind /stream/logs.
  const destination = multistream([
    { level: 'trace', stream: pinoDestination({ fd: 1, sync: false }) },
    { level: 'trace', stream: logs },
  ]);
  const log = createLogger({ level: config.log_level, name: 'rc-master', destination });
  const maxSizeBytes = config.store_max_size_mb === null ? null : config.store_max_size_mb * 1024 * 1024;
  const store = openStore(config.data_dir, log.child({ component: 'store' }), { maxSizeBytes, backgroundCheckpoints: true, backgroundWrites: true });
  const master = new Master({ config, store, log, logs });
  onShutdownSignal(() => master.close());
  try {
    await master.start();
  } catch (err) {
    await master.close();
    throw err;
  }
}
