import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.js';
import { spawnBin, type RunningProcess } from './processes.js';
import { TcpProxy } from './tcp-proxy.js';

/**
 * The real processes of a chaos run: one rc-master on fixed loopback ports
 * (so it can be killed and restarted in place) and rc-workers that reach it
 * through a TcpProxy the run controls. No node:test dependency, so the same
 * code serves `npm run chaos` and the short run inside `npm test`.
 */
export interface ClusterTiming {
  heartbeatIntervalS: number;
  offlineAfterS: number;
  lostAfterS: number;
}

export class ChaosCluster {
  readonly root: string;
  readonly timing: ClusterTiming;
  master: RunningProcess | null = null;
  readonly workers = new Map<string, RunningProcess | null>();
  proxy: TcpProxy | null = null;
  tcpPort = 0;
  httpPort = 0;
  readonly #workerSlots: number;

  constructor(root: string, timing: ClusterTiming, workerSlots: number) {
    this.root = root;
    this.timing = timing;
    this.#workerSlots = workerSlots;
  }

  get dataDir(): string {
    return join(this.root, 'master');
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get masterPid(): number | null {
    return this.master?.proc.pid ?? null;
  }

  async start(workerCount: number): Promise<void> {
    this.tcpPort = await freePort();
    this.httpPort = await freePort();
    await this.startMaster();
    this.proxy = await TcpProxy.start(this.tcpPort);
    for (let i = 1; i <= workerCount; i++) this.startWorker(`w${i}`);
  }

  async startMaster(): Promise<void> {
    const t = this.timing;
    const proc = spawnBin('rc-master', [
      '--host', '127.0.0.1', '--http-host', '127.0.0.1',
      '--port', String(this.tcpPort), '--http-port', String(this.httpPort),
      '--data-dir', this.dataDir, '--log-level', 'warn',
      '--heartbeat-interval', String(t.heartbeatIntervalS), '--offline-after', String(t.offlineAfterS), '--lost-after', String(t.lostAfterS),
      '--lease', '10',
    ]);
    this.master = proc;
    await waitUntil(() => runtimePid(this.dataDir) === proc.proc.pid, 20_000, () => `master did not start:\n${proc.output()}`);
  }

  async killMaster(): Promise<void> {
    const m = this.master;
    if (!m) return;
    m.kill('SIGKILL');
    await m.exited;
    this.master = null;
  }

  startWorker(id: string): void {
    const token = readFileSync(join(this.dataDir, 'join-token'), 'utf8').trim();
    const proc = spawnBin('rc-worker', [
      '--join', `127.0.0.1:${this.proxy!.port}`, '--token', token, '--device-id', id,
      '--data-dir', join(this.root, id), '--max-tasks', String(this.#workerSlots),
      '--allow', 'exec', '--log-level', 'warn', '--backoff-base', '0.2', '--backoff-max', '1', '--shutdown-grace', '0',
    ]);
    this.workers.set(id, proc);
  }

  async killWorker(id: string): Promise<void> {
    const w = this.workers.get(id);
    if (!w) return;
    w.kill('SIGKILL');
    await w.exited;
    this.workers.set(id, null);
  }

  /** Everything down, by PID, politely and then for sure. */
  async stop(): Promise<void> {
    const all = [...this.workers.values(), this.master].filter((p): p is RunningProcess => p !== null);
    for (const p of all) p.kill('SIGTERM');
    await Promise.race([Promise.all(all.map((p) => p.exited)), sleep(10_000)]);
    for (const p of all) p.kill('SIGKILL');
    await Promise.all(all.map((p) => p.exited));
    await this.proxy?.close();
  }
}

function runtimePid(dataDir: string): number | null {
  const file = join(dataDir, 'master.json');
  if (!existsSync(file)) return null;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid;
  } catch {
    return null; // being written
  }
}

async function waitUntil(check: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(describe());
    await sleep(50);
  }
}
