/**
 * `npm run chaos`: the full chaos run (issue #6). Flags:
 *   --seed N  --tasks N  --workers N  --faults N  --kinds a,b  --timeout S  --max-rss MB  --slots N  --json
 * A failing run prints its seed and the command that replays it, and exits 1.
 */
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_CHAOS, FAULT_KINDS, formatReport, runChaos, type FaultKind } from '../helpers/chaos.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number ≥ 0');
  return n;
}

function kinds(value: string): FaultKind[] {
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = list.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
  if (unknown.length > 0 || list.length === 0) throw new InvalidArgumentError(`fault kinds are ${FAULT_KINDS.join(', ')}`);
  return list as FaultKind[];
}

const program = new Command('chaos')
  .description('real master + workers behind a fault-injecting proxy; checks that no task is lost or done twice')
  .option('--seed <n>', 'seed of the task mix and the fault plan (default: random)', positiveInt)
  .option('--tasks <n>', 'tasks to submit', positiveInt, DEFAULT_CHAOS.tasks)
  .option('--workers <n>', 'rc-worker processes', positiveInt, DEFAULT_CHAOS.workers)
  .option('--slots <n>', 'tasks each worker runs at once', positiveInt, DEFAULT_CHAOS.slots)
  .option('--faults <n>', 'faults to inject', positiveInt, DEFAULT_CHAOS.faults)
  .option('--kinds <list>', `fault kinds to use (${FAULT_KINDS.join(',')})`, kinds, [...FAULT_KINDS])
  .option('--timeout <s>', 'seconds to wait for every task to end', positiveInt, DEFAULT_CHAOS.timeoutS)
  .option('--max-rss <mb>', 'the master\'s RSS limit', positiveInt, DEFAULT_CHAOS.maxRssMb)
  .option('--json', 'print the report as JSON');

program.parse();
const o = program.opts<{ seed?: number; tasks: number; workers: number; slots: number; faults: number; kinds: FaultKind[]; timeout: number; maxRss: number; json?: boolean }>();
const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
const replay = `npm run chaos -- --seed ${seed} --tasks ${o.tasks} --workers ${o.workers} --slots ${o.slots} --faults ${o.faults} --kinds ${o.kinds.join(',')}`;
const report = await runChaos({
  seed, tasks: o.tasks, workers: o.workers, slots: o.slots, faults: o.faults, kinds: o.kinds, timeoutS: o.timeout, maxRssMb: o.maxRss,
  print: (line) => process.stderr.write(`${line}\n`),
}).catch((err: unknown) => {
  process.stderr.write(`chaos run crashed (seed ${seed}): ${String(err)}\nreplay with: ${replay}\n`);
  process.exit(1);
});
process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report, replay)}\n`);
process.exitCode = report.passed ? 0 : 1;
