/**
 * `npm run bench` (issue #8): every measurement in one run, each against the
 * baseline measured in the same run, printed as a table and saved as JSON in
 * bench/results/. Flags: --quick (smaller counts), --only a,b (baseline,
 * throughput, latency, heartbeats, restart, worker).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { findPackageRoot } from '../src/common/package-root.js';
import { measureBaseline } from './baseline.js';
import { measureHeartbeats } from './heartbeats.js';
import { measureLatency } from './latency.js';
import { measureRestart } from './restart.js';
import { measureThroughput } from './throughput.js';
import { measureWorker } from './worker-footprint.js';

/** V8 flags a user may give node on a phone (README); set at run time instead, --lite-mode crashed Node 18. */
const LITE_FLAGS = ['--lite-mode', '--no-expose-wasm'];
const SECTIONS = ['baseline', 'throughput', 'latency', 'heartbeats', 'restart', 'worker'] as const;
type Section = (typeof SECTIONS)[number];

interface Row {
  measure: string;
  value: string;
  target: string;
  verdict: 'PASS' | 'MISS' | '';
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args[args.indexOf('--only') + 1];
const only = new Set<Section>(args.includes('--only') && onlyArg ? (onlyArg.split(',') as Section[]) : SECTIONS);
const scale = {
  tasks: quick ? 10_000 : 50_000,
  devices: quick ? 1_000 : 10_000,
  queued: quick ? 20_000 : 100_000,
  probes: quick ? 50 : 200,
  windowS: quick ? 5 : 15,
};
const say = (line: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const verdict = (ok: boolean): 'PASS' | 'MISS' => (ok ? 'PASS' : 'MISS');

const results: Record<string, unknown> = {};
const rows: Row[] = [];

if (only.has('baseline') || only.has('throughput')) {
  say('baseline: NDJSON echo over loopback (parse + stringify both sides)…');
  results['baseline'] = await measureBaseline();
}
const baseline = results['baseline'] as Awaited<ReturnType<typeof measureBaseline>> | undefined;
if (baseline) rows.push({ measure: `baseline: NDJSON echo, ${baseline.messageBytes} B, ${baseline.connections}×${baseline.window}`, value: `${baseline.msgsPerS.toLocaleString('en')} msg/s`, target: 'ceiling', verdict: '' });

let maxTasksPerS = 0;
if (only.has('throughput')) {
  say(`throughput: ${scale.tasks} no-op tasks, 8 simulated workers × 50 slots…`);
  const t = await measureThroughput(scale.tasks, 8, 50, say);
  results['throughput'] = t;
  maxTasksPerS = t.tasksPerS;
  const ratio = baseline ? ` (${((t.tasksPerS * 4) / baseline.msgsPerS).toFixed(2)}× of baseline at 4 msg/task)` : '';
  rows.push({ measure: `throughput: ${t.tasks} durable tasks, first submit → last result stored`, value: `${t.tasksPerS.toLocaleString('en')} tasks/s${ratio}`, target: '≥ 25,000 tasks/s', verdict: verdict(t.tasksPerS >= 25_000) });
}

if (only.has('latency')) {
  say('latency: idle…');
  const idle = await measureLatency(scale.probes, 0);
  const load = Math.round((maxTasksPerS || 5000) / 2);
  say(`latency: under ${load} tasks/s…`);
  const busy = await measureLatency(scale.probes, load);
  results['latency'] = { idle, busy };
  rows.push({ measure: 'latency idle: submit → assign p50 / p99', value: `${idle.assignP50Ms} / ${idle.assignP99Ms} ms`, target: 'p99 ≤ 5 ms', verdict: verdict(idle.assignP99Ms <= 5) });
  rows.push({ measure: 'latency idle: submit → result stored p50 / p99', value: `${idle.resultP50Ms} / ${idle.resultP99Ms} ms`, target: '', verdict: '' });
  rows.push({ measure: `latency at ${load} tasks/s: submit → assign p50 / p99`, value: `${busy.assignP50Ms} / ${busy.assignP99Ms} ms`, target: '', verdict: '' });
  rows.push({ measure: `latency at ${load} tasks/s: submit → result p50 / p99`, value: `${busy.resultP50Ms} / ${busy.resultP99Ms} ms`, target: '', verdict: '' });
}

if (only.has('heartbeats')) {
  say(`heartbeats: ${scale.devices} simulated devices…`);
  const h = await measureHeartbeats(scale.devices, scale.windowS, say);
  results['heartbeats'] = h;
  for (const p of h.phases) {
    const ok = p.intervalS !== 5 || (p.cpuPercent <= 15 && p.rssMb <= 200);
    rows.push({
      measure: `${h.devices} devices, heartbeat every ${p.intervalS} s: CPU / RSS / lag p99`,
      value: `${p.cpuPercent} % / ${p.rssMb} MB / ${p.lagP99Ms ?? '?'} ms`,
      target: p.intervalS === 5 ? 'CPU ≤ 15 %, RSS ≤ 200 MB' : '',
      verdict: p.intervalS === 5 ? verdict(ok) : '',
    });
    rows.push({ measure: `  heartbeats stored / sent (${p.heartbeatsPerS}/s)`, value: `${p.persisted} / ${p.sent}`, target: 'all stored', verdict: verdict(p.persisted === p.sent) });
  }
}

if (only.has('restart')) {
  say(`restart: ${scale.queued} queued tasks…`);
  const r = await measureRestart(scale.queued, say);
  results['restart'] = r;
  rows.push({ measure: `restart with ${r.queued} queued: kill -9 → /health, → accepting`, value: `${r.healthMs} / ${r.servingMs} ms`, target: '≤ 2,000 ms', verdict: verdict(r.servingMs <= 2000) });
}

if (only.has('worker')) {
  say('worker: the real rc-worker, start → registered, then idle…');
  const w = await measureWorker(quick ? 5 : 10);
  say('worker: the one-file bundle phones download…');
  const bundle = join(findPackageRoot(), 'dist', 'worker', 'rc-worker.cjs');
  const b = await measureWorker(quick ? 5 : 10, bundle);
  say('worker: the bundle under node --lite-mode (README: a phone short of memory)…');
  const lite = await measureWorker(quick ? 5 : 10, bundle, LITE_FLAGS);
  results['worker'] = w;
  results['workerBundle'] = b;
  results['workerBundleLite'] = lite;
  rows.push({ measure: 'rc-worker: start → registered', value: `${w.registeredMs} ms`, target: '', verdict: '' });
  rows.push({ measure: 'rc-worker idle: RSS median (max) / CPU', value: `${w.idleRssMb} (${w.idleRssMaxMb}) MB / ${w.idleCpuPercent} %`, target: 'RSS ≤ 50 MB', verdict: verdict(w.idleRssMb <= 50) });
  rows.push({ measure: 'rc-worker.cjs bundle idle: RSS median (max) / CPU', value: `${b.idleRssMb} (${b.idleRssMaxMb}) MB / ${b.idleCpuPercent} %`, target: 'RSS ≤ 50 MB', verdict: verdict(b.idleRssMb <= 50) });
  rows.push({ measure: `  the same under node ${LITE_FLAGS.join(' ')}`, value: `${lite.idleRssMb} (${lite.idleRssMaxMb}) MB / ${lite.idleCpuPercent} %`, target: 'RSS ≤ 50 MB', verdict: verdict(lite.idleRssMb <= 50) });
}

const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const widths = [Math.max(...rows.map((r) => r.measure.length)), Math.max(...rows.map((r) => r.value.length)), Math.max(...rows.map((r) => r.target.length))];
const line = (r: Row): string => `${r.measure.padEnd(widths[0]!)}  ${r.value.padStart(widths[1]!)}  ${r.target.padEnd(widths[2]!)}  ${r.verdict}`.trimEnd();
process.stdout.write(`\n${machine}${quick ? ' — quick run' : ''}\n${line({ measure: 'MEASURE', value: 'VALUE', target: 'TARGET', verdict: '' })}\n${rows.map(line).join('\n')}\n`);

const dir = join(findPackageRoot(), 'bench', 'results');
mkdirSync(dir, { recursive: true });
const record = JSON.stringify({ at: new Date().toISOString(), machine, quick, results, rows }, null, 2);
writeFileSync(join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`), record);
writeFileSync(join(dir, 'latest.json'), record);
process.stdout.write(`\nsaved bench/results/latest.json\n`);
