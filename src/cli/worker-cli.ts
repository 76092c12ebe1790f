import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { Command } from 'commander';
import { parseJoinAddress, resolveWorkerConfig, type WorkerConfig } from '../common/config.js';
import { ConfigError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/logger.js';
import { packageVersion } from '../common/version.js';
import { loadOrCreateDeviceId } from '../worker/identity.js';
import { createMetricsSampler } from '../worker/metrics.js';
import { collectProfile } from '../worker/profile.js';
import { WorkerCredentials } from '../worker/credentials.js';
import { ResultOutbox } from '../worker/outbox.js';
import { PowerMonitor } from '../worker/power/monitor.js';
import { createPowerReader } from '../worker/power/readings.js';
import { TaskRunner } from '../worker/task-runner.js';
import { builtinTaskTypes, loadPlugins } from '../worker/tasks/index.js';
import { Worker } from '../worker/worker.js';
import { givenOptions, onShutdownSignal, runMain } from './run-main.js';

const FIRST_POWER_READING_MS = 1500;

function buildProgram(): Command {
  return new Command('rc-worker')
    .description('retire-cluster worker: joins a master, reports this device, runs its tasks')
    .version(packageVersion())
    .option('--join <host[:port]>', 'the master to join (env RC_JOIN); port defaults to 8080')
    .option('--device-id <id>', 'device id (default: generated once, kept in the data dir)')
    .option('--data-dir <dir>', 'worker state (default ~/.retire-cluster)')
    .option('--role <role>', 'role label used for matching (default worker)')
    .option('--tags <a,b>', 'comma-separated tags used for matching')
    .option('--max-tasks <n>', 'tasks run at once (default 2)')
    .option('--config <file>', 'JSON config file (see config/worker.example.json)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (default info)')
    .option('--token <token>', 'join token from the master (env RC_JOIN_TOKEN)')
    .option('--backoff-base <seconds>', 'first reconnect delay ceiling (default 1)')
    .option('--backoff-max <seconds>', 'largest reconnect delay (default 60)')
    .option('--max-line-bytes <n>', 'longest wire frame accepted (default 1048576)')
    .option('--allow <types>', 'opt-in task types that run programs: exec,shell')
    .option('--plugins <dir>', 'load each *.js module in DIR as a task type')
    .option('--tls', 'connect over TLS, verifying the master against the system CAs')
    .option('--tls-fingerprint <sha256>', 'connect over TLS and accept only this master certificate')
    .option('--shutdown-grace <seconds>', 'on SIGTERM, how long running tasks may finish before they are given back (default 30)')
    .option('--pause-battery-below <percent>', 'on battery, take no new task below this charge (default 30)')
    .option('--resume-battery-above <percent>', 'take tasks again above this charge (default 40)')
    .option('--only-when-charging', 'take tasks only while on external power')
    .option('--pause-temp-above <celsius>', 'take no new task above this temperature (default 45)')
    .option('--power-check <seconds>', 'how often battery and temperature are read (default 30)');
}

export function main(argv: readonly string[]): void {
  const program = buildProgram();
  program.action(() => runMain('rc-worker', () => startWorker(givenOptions(program.opts()))));
  program.parse(argv as string[]);
}

async function startWorker(flags: Record<string, unknown>): Promise<void> {
  const config = resolveWorkerConfig({ flags, env: process.env, configPath: flags['config'] as string | undefined });
  if (config.join === null) throw new ConfigError(['--join HOST[:PORT] (or RC_JOIN) is required: the address of the master']);
  const deviceId = config.device_id ?? loadOrCreateDeviceId(config.data_dir, hostname());
  const log = createLogger({ level: config.log_level, name: 'rc-worker' }).child({ device_id: deviceId });
  let worker: Worker | null = null;
  const power = createPowerMonitor(config, log, () => worker?.pauseChanged());
  // Wait briefly for the first reading, so a phone that starts on a low battery says so in its
  // first heartbeat; never hold the start up longer (probes can be slow on a busy phone).
  await Promise.race([power.start(), delay(FIRST_POWER_READING_MS)]);
  const runner = await createRunner(config, deviceId, log, power);
  worker = createWorker(config, config.join, deviceId, runner, log, power);
  const running = worker;
  onShutdownSignal(async () => {
    power.stop();
    await running.close();
  });
  log.info({ master: config.join, data_dir: config.data_dir, task_types: runner.taskTypes }, 'worker starting');
  worker.start();
}

function createPowerMonitor(config: Readonly<WorkerConfig>, log: Logger, onChange: () => void): PowerMonitor {
  return new PowerMonitor({
    policy: {
      pauseBelowPct: config.pause_battery_below_pct,
      resumeAbovePct: config.resume_battery_above_pct,
      onlyWhenCharging: config.only_when_charging,
      pauseAboveC: config.pause_temp_above_c,
      resumeDeltaC: config.resume_temp_delta_c,
    },
    read: createPowerReader(),
    intervalMs: config.power_check_s * 1000,
    log: log.child({ component: 'power' }),
    onChange,
  });
}

async function createRunner(config: Readonly<WorkerConfig>, deviceId: string, log: Logger, power: PowerMonitor): Promise<TaskRunner> {
  const types = builtinTaskTypes(new Set(config.allow));
  if (config.plugins !== null) {
    for (const plugin of await loadPlugins(config.plugins, log)) types.set(plugin.name, plugin);
  }
  return new TaskRunner({
    deviceId,
    maxTasks: config.max_tasks,
    types,
    outputCapBytes: config.output_cap_bytes,
    maxLineBytes: config.max_line_bytes,
    log: log.child({ component: 'tasks' }),
    outbox: ResultOutbox.open(config.data_dir, log.child({ component: 'outbox' })),
    pauseReason: () => power.reason,
  });
}

function createWorker(config: Readonly<WorkerConfig>, join: string, deviceId: string, runner: TaskRunner, log: Logger, power: PowerMonitor): Worker {
  const sampler = createMetricsSampler({ dataDir: config.data_dir });
  return new Worker({
    config,
    log,
    deviceId,
    runner,
    credentials: new WorkerCredentials(config.data_dir, config.token),
    shutdownGraceMs: config.shutdown_grace_s * 1000,
    master: parseJoinAddress(join),
    collectProfile: () => collectProfile({ role: config.role, tags: [...config.tags], maxTasks: config.max_tasks, taskTypes: runner.taskTypes, dataDir: config.data_dir }),
    sampleMetrics: async (active) => power.enrich(await sampler.sample(active)),
    pauseReason: () => power.reason,
  });
}
