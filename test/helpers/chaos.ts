import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ChaosCluster } from './chaos-cluster.js';
import { checkInvariants, type Invariant, type SubmittedTask } from './chaos-checks.js';
import { seededRandom } from './random.js';

/**
 * The chaos run (issue #6): a real master and real workers behind a proxy,
 * thousands of tasks with known outputs, and faults injected at random
 * (seeded) while they run. The same seed gives the same task mix and the same
 * fault plan; the timing of a real cluster varies, so a replay reproduces the
 * conditions, not every byte.
 */
export const FAULT_KINDS = ['worker_kill', 'master_kill', 'cut', 'latency', 'partition'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ChaosOptions {
  seed: number;
  tasks: number;
  workers: number;
  /** How many faults to inject, spread over the run. */
  faults: number;
  kinds: readonly FaultKind[];
  /** Give up waiting for the tasks to end after this long. */
  timeoutS: number;
  /** The master's RSS must stay below this. */
  maxRssMb: number;
  slots: number;
  print: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  options: Omit<ChaosOptions, 'print' | 'seed'>;
  faults: string[];
  invariants: Invariant[];
  counts: Record<string, number>;
  durationS: number;
  maxRssMb: number;
  passed: boolean;
}

export const DEFAULT_CHAOS: Omit<ChaosOptions, 'seed' | 'print'> = {
  tasks: 3000,
  workers: 4,
  faults: 15,
  kinds: FAULT_KINDS,
  timeoutS: 300,
  maxRssMb: 300,
  slots: 4,
};

/** Task i of a run: an echo, a short sleep or an exec, each with the output it must produce. */
export function chaosTask(i: number, seed: number, rand: () => number): SubmittedTask {
  const key = `chaos-${seed}-${i}`;
  const pick = rand();
  if (pick < 0.4) return { key, expected: `echo-${i}`, body: { task_type: 'echo', payload: { message: `echo-${i}` }, idempotency_key: key } };
  if (pick < 0.7) {
    const seconds = Math.round((0.05 + rand() * 0.45) * 100) / 100;
    return { key, expected: '', body: { task_type: 'sleep', payload: { seconds }, idempotency_key: key } };
  }
  return { key, expected: `exec-${i}`, body: { task_type: 'exec', payload: { command: ['sh', '-c', `echo exec-${i}`] }, idempotency_key: key } };
}

/** Every kind once (in a seeded order) before any repeats, so short runs still see each fault. */
export function faultPlan(count: number, kinds: readonly FaultKind[], rand: () => number): FaultKind[] {
  const plan: FaultKind[] = [];
  while (plan.length < count) {
    const round = [...kinds].sort(() => rand() - 0.5);
    plan.push(...round.slice(0, count - plan.length));
  }
  return plan;
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const rand = seededRandom(opts.seed);
  const root = mkdtempSync(join(tmpdir(), 'rc-chaos-'));
  const cluster = new ChaosCluster(root, { heartbeatIntervalS: 0.5, offlineAfterS: 2, lostAfterS: 4 }, opts.slots);
  const elapsed = (): string => `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`;
  const say = (line: string): void => opts.print(`${elapsed()} ${line}`);
  const rss = new RssSampler(() => cluster.masterPid);
  try {
    say(`seed ${opts.seed}: ${opts.tasks} tasks, ${opts.workers} workers × ${opts.slots} slots, ${opts.faults} faults (${opts.kinds.join(', ')})`);
    await cluster.start(opts.workers);
    const tasks = Array.from({ length: opts.tasks }, (_, i) => chaosTask(i, opts.seed, rand));
    const plan = faultPlan(opts.faults, opts.kinds, rand);
    const faults: string[] = [];
    const api = new ChaosApi(cluster);
    rss.start();
    const submitting = submitInChunks(api, tasks, plan.length, say);
    const injecting = injectFaults(cluster, plan, rand, (line) => {
      faults.push(line);
      say(`fault ${faults.length}/${plan.length}: ${line}`);
    });
    await Promise.all([submitting, injecting]);
    cluster.proxy?.setLatency(0);
    const finished = await waitForFinal(api, tasks.length, opts.timeoutS * 1000, say);
    say(finished ? 'every task reached a final state; checking invariants' : 'timed out waiting; checking invariants anyway');
    rss.stop();
    const maxRssMb = rss.maxMb;
    const { invariants, counts } = await checkInvariants(api, tasks, maxRssMb, opts.maxRssMb);
    const report: ChaosReport = {
      seed: opts.seed,
      options: { tasks: opts.tasks, workers: opts.workers, faults: opts.faults, kinds: opts.kinds, timeoutS: opts.timeoutS, maxRssMb: opts.maxRssMb, slots: opts.slots },
      faults,
      invariants,
      counts,
      durationS: Math.round((Date.now() - started) / 100) / 10,
      maxRssMb,
      passed: invariants.every((x) => x.ok),
    };
    return report;
  } finally {
    rss.stop();
    await cluster.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

/** The master's HTTP API, across its restarts (requests during a restart are retried). */
export class ChaosApi {
  readonly #cluster: ChaosCluster;

  constructor(cluster: ChaosCluster) {
    this.#cluster = cluster;
  }

  async request(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const token = readFileSync(join(this.#cluster.dataDir, 'api-token'), 'utf8').trim();
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.#cluster.httpUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }), signal: AbortSignal.timeout(15_000) });
    const text = await res.text();
    return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
  }

  /** Retry through master restarts until it answers `okStatus`. */
  async until(method: string, path: string, body: unknown, okStatus: number, timeoutMs = 60_000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const res = await this.request(method, path, body);
        if (res.status === okStatus) return res.body;
        last = `${res.status} ${JSON.stringify(res.body).slice(0, 200)}`;
      } catch (err) {
        last = String(err);
      }
      await sleep(200);
    }
    throw new Error(`${method} ${path} did not succeed in time: ${last}`);
  }
}

/** Submit in chunks spread over the fault plan, so faults land while work is arriving and running. */
async function submitInChunks(api: ChaosApi, tasks: readonly SubmittedTask[], faultCount: number, say: (l: string) => void): Promise<void> {
  const chunk = Math.max(50, Math.ceil(tasks.length / 10));
  const chunks = Math.ceil(tasks.length / chunk);
  const pauseMs = Math.min(3000, (faultCount * MEAN_FAULT_GAP_MS) / Math.max(1, chunks));
  for (let i = 0; i < tasks.length; i += chunk) {
    const slice = tasks.slice(i, i + chunk);
    // Idempotency keys make a resubmit after a master crash safe: the same key is the same task.
    const created = (await api.until('POST', '/api/v1/tasks', slice.map((x) => x.body), 201)) as Array<{ task_id: string }>;
    slice.forEach((task, j) => (task.id = created[j]!.task_id));
    say(`submitted ${Math.min(i + chunk, tasks.length)}/${tasks.length}`);
    await sleep(pauseMs);
  }
}

const MEAN_FAULT_GAP_MS = 1500;

async function injectFaults(cluster: ChaosCluster, plan: readonly FaultKind[], rand: () => number, note: (line: string) => void): Promise<void> {
  for (const kind of plan) {
    await sleep(500 + rand() * 2 * (MEAN_FAULT_GAP_MS - 500));
    note(await injectFault(cluster, kind, rand));
  }
}

async function injectFault(cluster: ChaosCluster, kind: FaultKind, rand: () => number): Promise<string> {
  switch (kind) {
    case 'worker_kill': {
      const ids = [...cluster.workers.keys()];
      const id = ids[Math.floor(rand() * ids.length)]!;
      const downMs = Math.round(300 + rand() * 1700);
      await cluster.killWorker(id);
      setTimeout(() => cluster.startWorker(id), downMs);
      return `kill -9 worker ${id} (back in ${(downMs / 1000).toFixed(1)} s)`;
    }
    case 'master_kill': {
      const downMs = Math.round(rand() * 1000);
      await cluster.killMaster();
      await sleep(downMs);
      await cluster.startMaster();
      return `kill -9 master, restarted after ${(downMs / 1000).toFixed(1)} s`;
    }
    case 'cut': {
      if (rand() < 0.5) {
        cluster.proxy?.cutAll();
        return 'proxy cut every connection';
      }
      const ok = cluster.proxy?.cutOne(Math.floor(rand() * 100)) ?? false;
      return ok ? 'proxy cut one connection' : 'proxy cut: no connection open';
    }
    case 'latency': {
      const ms = Math.round(50 + rand() * 250);
      const forMs = Math.round(2000 + rand() * 3000);
      cluster.proxy?.setLatency(ms);
      setTimeout(() => cluster.proxy?.setLatency(0), forMs);
      return `latency ${ms} ms each way for ${(forMs / 1000).toFixed(1)} s`;
    }
    case 'partition': {
      const ms = Math.round(2000 + rand() * 4000);
      cluster.proxy?.partition(ms);
      return `partition for ${(ms / 1000).toFixed(1)} s (lost_after is ${cluster.timing.lostAfterS} s)`;
    }
  }
}

async function waitForFinal(api: ChaosApi, total: number, timeoutMs: number, say: (l: string) => void): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let lastPrint = 0;
  while (Date.now() < deadline) {
    const counts = await taskGauge(api).catch(() => null);
    if (counts !== null) {
      const final = counts['succeeded']! + counts['failed']! + counts['timed_out']! + counts['cancelled']!;
      if (Date.now() - lastPrint > 2000) {
        say(`final ${final}/${total}  queued ${counts['queued']}  assigned ${counts['assigned']}  running ${counts['running']}`);
        lastPrint = Date.now();
      }
      if (final >= total) return true;
    }
    await sleep(250);
  }
  return false;
}

/** rc_tasks{status} from /metrics: cheap enough to poll. */
export async function taskGauge(api: ChaosApi): Promise<Record<string, number>> {
  const res = await api.request('GET', '/metrics');
  const counts: Record<string, number> = { queued: 0, assigned: 0, running: 0, succeeded: 0, failed: 0, timed_out: 0, cancelled: 0 };
  for (const m of String(res.body).matchAll(/^rc_tasks\{status="(\w+)"\} (\d+)$/gm)) counts[m[1]!] = Number(m[2]);
  return counts;
}

/** Samples the master's VmRSS every 250 ms, across restarts (whatever process is the master now). */
class RssSampler {
  readonly #pid: () => number | null;
  #timer: NodeJS.Timeout | null = null;
  maxMb = 0;

  constructor(pid: () => number | null) {
    this.#pid = pid;
  }

  start(): void {
    this.#timer = setInterval(() => this.#sample(), 250);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  #sample(): void {
    const pid = this.#pid();
    if (pid === null) return;
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      this.maxMb = Math.max(this.maxMb, Math.round(kb / 1024));
    } catch {
      // between a kill and a restart
    }
  }
}

/** The printed summary: one aligned line per invariant, then the counts. */
export function formatReport(r: ChaosReport, replay: string): string {
  const width = Math.max(...r.invariants.map((x) => x.name.length));
  const lines = [
    '',
    `chaos run — seed ${r.seed}, ${r.options.tasks} tasks, ${r.options.workers} workers, ${r.faults.length} faults, ${r.durationS} s`,
    ...r.invariants.map((x) => `  ${x.ok ? 'PASS' : 'FAIL'}  ${x.name.padEnd(width)}  ${x.detail}`),
    `  counts: ${Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `  master RSS max ${r.maxRssMb} MB`,
    r.passed ? 'all invariants hold' : `FAILED — replay with: ${replay}`,
  ];
  return lines.join('\n');
}
