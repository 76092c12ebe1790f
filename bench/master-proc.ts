import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findPackageRoot } from '../src/common/package-root.js';

/** A real rc-master for a benchmark: loopback only, its own temp data dir, and /proc readings of its cost. */
export class BenchMaster {
  readonly dataDir: string;
  proc: ChildProcess | null = null;
  tcpPort = 0;
  httpPort = 0;
  readonly #args: string[];
  readonly #agent = new Agent({ keepAlive: true });
  /** Read once: a restart keeps the data dir and so the token, and a latency probe should not time a file read. */
  #apiToken: string | null = null;

  constructor(args: string[] = [], dataDir?: string) {
    this.dataDir = dataDir ?? mkdtempSync(join(tmpdir(), 'rc-bench-'));
    this.#args = args;
  }

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get pid(): number {
    return this.proc?.pid ?? 0;
  }

  secret(name: 'api-token' | 'join-token'): string {
    return readFileSync(join(this.dataDir, name), 'utf8').trim();
  }

  /** Starts (or restarts on the same ports) and resolves once master.json names this process. */
  async start(): Promise<number> {
    const started = performance.now();
    const ports = this.tcpPort === 0 ? ['--port', '0', '--http-port', '0'] : ['--port', String(this.tcpPort), '--http-port', String(this.httpPort)];
    const bin = join(findPackageRoot(), 'bin', 'rc-master.js');
    // RC_BENCH_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the master under load.
    const nodeFlags = (process.env['RC_BENCH_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);
    const proc = spawn(process.execPath, [...nodeFlags, bin, '--host', '127.0.0.1', '--http-host', '127.0.0.1', ...ports, '--data-dir', this.dataDir, '--log-level', 'warn', ...this.#args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    this.proc = proc;
    for (;;) {
      const info = this.#runtime();
      if (info !== null && info.pid === proc.pid) {
        this.tcpPort = info.tcp_port;
        this.httpPort = info.http_port;
        return performance.now() - started;
      }
      if (proc.exitCode !== null) throw new Error(`rc-master exited: ${stderr}`);
      await sleep(5);
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await exited;
  }

  async stop(): Promise<void> {
    this.#agent.destroy();
    await this.kill('SIGTERM');
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /**
   * node:http on a keep-alive connection, not fetch: undici's own overhead
   * (about 1.4 ms per request here) would be measured as the master's latency.
   * `prefer: 'return=minimal'` asks a submit for ids and statuses only, as a
   * bulk client (and rc batch) does.
   */
  post(path: string, body: unknown, prefer?: string): Promise<{ status: number; body: unknown }> {
    const payload = JSON.stringify(body);
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), authorization: `Bearer ${(this.#apiToken ??= this.secret('api-token'))}` };
    if (prefer !== undefined) headers['prefer'] = prefer;
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: this.httpPort, path, method: 'POST', headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  #runtime(): { pid: number; tcp_port: number; http_port: number } | null {
    const file = join(this.dataDir, 'master.json');
    if (!existsSync(file)) return null;
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as { pid: number; tcp_port: number; http_port: number };
    } catch {
      return null;
    }
  }
}

/** CPU time (user + system, ms) and RSS (MB) of a process, from /proc. */
export function processCost(pid: number): { cpuMs: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { cpuMs: (ticks * 1000) / 100, rssMb: Math.round(rssKb / 102.4) / 10 };
}

/** CPU % of one core a process used over `ms`. */
export async function cpuPercentOver(pid: number, ms: number): Promise<number> {
  const a = processCost(pid).cpuMs;
  const t0 = performance.now();
  await sleep(ms);
  const b = processCost(pid).cpuMs;
  return Math.round(((b - a) / (performance.now() - t0)) * 1000) / 10;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
