import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { waitFor } from './wait.js';

/** Repo root: dist/test/helpers → three levels up. */
export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const BIN = join(REPO_ROOT, 'bin');

export interface RunningProcess {
  proc: ChildProcess;
  /** Everything the process printed so far (stdout + stderr). */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

export function spawnBin(name: string, args: string[], env: Record<string, string> = {}): RunningProcess {
  const proc = spawn(process.execPath, [join(BIN, `${name}.js`), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = exitedWithOutput(proc);
  return {
    proc,
    output: () => out,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
  };
}

/**
 * Resolves once the process has exited and its stdout/stderr are drained ('close'),
 * so output() is complete when a test reads it. 'exit' can come before the last
 * bytes of the pipes; a grandchild holding a pipe open must not hang the test, so
 * 'close' is awaited for at most 2 s after 'exit'.
 */
function exitedWithOutput(proc: ChildProcess): Promise<number | string> {
  return new Promise((res) => {
    proc.once('exit', (code, signal) => {
      const result = code ?? signal ?? -1;
      const timer = setTimeout(() => res(result), 2_000);
      proc.once('close', () => {
        clearTimeout(timer);
        res(result);
      });
    });
  });
}

/** Processes each test started, so its temp dirs are removed only once they are gone. */
const startedBy = new WeakMap<TestContext, Set<RunningProcess>>();

function track(t: TestContext, running: RunningProcess): void {
  const set = startedBy.get(t) ?? new Set<RunningProcess>();
  set.add(running);
  startedBy.set(t, set);
  t.after(async () => {
    running.kill('SIGKILL');
    await running.exited;
  });
}

/**
 * A temp dir removed after the test. `after` hooks run in the order they were
 * registered, so the dir's hook (usually the first) would otherwise race a
 * master still writing into it (ENOTEMPTY): it stops the test's processes first.
 */
export function tempDir(t: TestContext, prefix = 'rc-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(async () => {
    for (const running of startedBy.get(t) ?? []) {
      running.kill('SIGKILL');
      await running.exited;
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 });
  });
  return dir;
}

export interface MasterOptions {
  dataDir: string;
  heartbeatIntervalS?: number;
  offlineAfterS?: number;
  tcpPort?: number;
  httpPort?: number;
  extraArgs?: string[];
  env?: Record<string, string>;
}

export interface RunningMaster extends RunningProcess {
  tcpPort: number;
  httpPort: number;
  dataDir: string;
  httpUrl: string;
}

/** Start a real rc-master on 127.0.0.1 and wait until master.json names its ports. */
export async function startMaster(t: TestContext, opts: MasterOptions): Promise<RunningMaster> {
  const args = [
    '--host', '127.0.0.1', '--http-host', '127.0.0.1',
    '--port', String(opts.tcpPort ?? 0), '--http-port', String(opts.httpPort ?? 0),
    '--data-dir', opts.dataDir,
    '--heartbeat-interval', String(opts.heartbeatIntervalS ?? 0.5),
    '--offline-after', String(opts.offlineAfterS ?? 3),
    '--log-level', 'info',
    ...(opts.extraArgs ?? []),
  ];
  const running = spawnBin('rc-master', args, opts.env ?? {});
  track(t, running);
  const info = await waitFor(() => readRuntimeFile(opts.dataDir, running.proc.pid), 15_000, () => `master did not start:\n${running.output()}`);
  return { ...running, tcpPort: info.tcp_port, httpPort: info.http_port, dataDir: opts.dataDir, httpUrl: `http://127.0.0.1:${info.http_port}` };
}

function readRuntimeFile(dataDir: string, pid: number | undefined): { tcp_port: number; http_port: number } | null {
  const file = join(dataDir, 'master.json');
  if (!existsSync(file)) return null;
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; tcp_port: number; http_port: number };
    return info.pid === pid ? info : null;
  } catch {
    return null; // being written
  }
}

export interface WorkerOptions {
  dataDir: string;
  deviceId?: string;
  role?: string;
  tags?: string[];
  maxTasks?: number;
  extraArgs?: string[];
  env?: Record<string, string>;
}

/** Where a worker joins: a port, and the master's data dir (for its join token) or the token itself. */
export interface JoinTarget {
  tcpPort: number;
  dataDir?: string;
  joinToken?: string;
}

/** Start a real rc-worker joined to the master's TCP port, with the master's join token. */
export function startWorker(t: TestContext, master: JoinTarget, opts: WorkerOptions): RunningProcess {
  const args = ['--join', `127.0.0.1:${master.tcpPort}`, '--data-dir', opts.dataDir, '--log-level', 'info', '--backoff-base', '0.2', '--backoff-max', '1'];
  const token = master.joinToken ?? (master.dataDir ? readFileSync(join(master.dataDir, 'join-token'), 'utf8').trim() : null);
  if (token !== null && !(opts.extraArgs ?? []).includes('--token')) args.push('--token', token);
  if (opts.deviceId) args.push('--device-id', opts.deviceId);
  if (opts.role) args.push('--role', opts.role);
  if (opts.tags) args.push('--tags', opts.tags.join(','));
  if (opts.maxTasks) args.push('--max-tasks', String(opts.maxTasks));
  // Tests run programs through exec; a worker offers it only when allowed (unless the test says otherwise).
  if (!(opts.extraArgs ?? []).includes('--allow')) args.push('--allow', 'exec');
  const running = spawnBin('rc-worker', [...args, ...(opts.extraArgs ?? [])], opts.env ?? {});
  track(t, running);
  return running;
}
