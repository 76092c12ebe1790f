/**
 * Child processes for task types (exec, shell) that die with their task.
 *
 * Each task's process gets its own process group (`detached: true` is setsid
 * on POSIX), so a timeout or cancel reaches everything it started, not just
 * the direct child: SIGTERM to the group, then SIGKILL after a grace period.
 * Windows has no process groups; `taskkill /T /F` walks the tree there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { readdir, readTextFile } from './fs-async.js';
import { inheritedEnv } from './task-sandbox.js';
import type { OutputSink, TaskOutcome } from './tasks/types.js';

/** How long a process group has between SIGTERM and SIGKILL, in ms. */
export const DEFAULT_KILL_GRACE_MS = 2000;

const IS_WINDOWS = process.platform === 'win32';
/** How often to look whether a stopped process group is empty yet, in ms. */
const GROUP_POLL_MS = 20;

export interface RunProcessOptions {
  command: string;
  args: readonly string[];
  cwd?: string;
  /** Merged over process.env without the worker's secrets (see task-sandbox.ts). */
  env?: Readonly<Record<string, string>>;
  /** Written to the process's stdin, which is then closed. Without it stdin is /dev/null. */
  stdin?: string;
  /** Aborting kills the whole process tree. */
  signal: AbortSignal;
  output: OutputSink;
  /** Between SIGTERM and SIGKILL, in ms. Default 2000. */
  killGraceMs?: number;
  /** Windows only: pass args to the program unquoted (cmd.exe /c). */
  windowsVerbatimArguments?: boolean;
}

/**
 * Runs one program to its end and describes how it ended. Never rejects: a
 * program that cannot start is an outcome with an error, too.
 *
 * When the program exits, whatever it left running in its group is stopped
 * as well (like systemd's KillMode=control-group): a finished task leaves
 * nothing behind, and a background child cannot hold the task open through
 * an inherited stdout. It resolves once the group is empty (or the kill grace
 * and a margin have passed), so the caller may remove the task's files.
 */
export function runProcess(opts: RunProcessOptions): Promise<TaskOutcome> {
  if (opts.signal.aborted) return Promise.resolve({ exit_code: null, error: 'aborted before start' });
  let child: ChildProcess;
  try {
    child = startChild(opts);
  } catch (err) {
    // Arguments spawn refuses outright, e.g. a NUL byte in the command.
    return Promise.resolve({ exit_code: null, error: describeSpawnError(opts, err as Error) });
  }
  return new Promise((resolve) => {
    const killer = new TreeKiller(child, opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
    const onAbort = (): void => killer.kill();
    opts.signal.addEventListener('abort', onAbort, { once: true });
    const finish = (outcome: TaskOutcome): void => {
      opts.signal.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    child.on('error', (err) => {
      // Only a failed spawn ends the run here; later errors (a failed kill) are followed by 'exit'.
      if (child.pid === undefined) finish({ exit_code: null, error: describeSpawnError(opts, err) });
    });
    child.once('exit', (code, signal) => {
      killer.exited();
      const deadline = Date.now() + killer.graceMs + 500;
      void waitForStdio(child, killer.graceMs + 500)
        .then(() => waitForGroupExit(child.pid, deadline))
        .then(() => finish(describeExit(code, signal, killer.hasSignalled)));
    });
  });
}

function startChild(opts: RunProcessOptions): ChildProcess {
  const child = spawn(opts.command, [...opts.args], {
    cwd: opts.cwd,
    env: { ...inheritedEnv(process.env), ...opts.env },
    stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    detached: !IS_WINDOWS,
    shell: false,
    windowsHide: true,
    windowsVerbatimArguments: opts.windowsVerbatimArguments,
  });
  pipeOutput(child, opts.output);
  if (opts.stdin !== undefined && child.stdin) {
    // A program that exits without reading its input closes the pipe: EPIPE is not our failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.stdin);
  }
  return child;
}

function pipeOutput(child: ChildProcess, output: OutputSink): void {
  // setEncoding keeps a multi-byte character split across two reads whole.
  child.stdout?.setEncoding('utf8').on('data', (text: string) => output.write('stdout', text));
  child.stderr?.setEncoding('utf8').on('data', (text: string) => output.write('stderr', text));
}

/** Resolves once stdout and stderr are drained, or after `maxMs` (a daemon that escaped the group holds them). */
function waitForStdio(child: ChildProcess, maxMs: number): Promise<void> {
  const streams = [child.stdout, child.stderr].filter((s) => s !== null && !s.readableEnded && !s.destroyed);
  if (streams.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      for (const s of streams) s?.destroy();
      resolve();
    };
    const timer = setTimeout(done, maxMs);
    child.once('close', done);
  });
}

/** Resolves once no live process is left in the group led by `pgid`, or at `deadline` (ms since the epoch). */
async function waitForGroupExit(pgid: number | undefined, deadline: number): Promise<void> {
  if (pgid === undefined || IS_WINDOWS) return;
  while (Date.now() < deadline && (await hasLiveMembers(pgid))) await sleep(GROUP_POLL_MS);
}

/**
 * Whether the process group still has a member that runs. On Linux a zombie
 * does not count: where PID 1 does not reap orphans, a killed child stays a
 * zombie forever, and it holds no files open.
 */
async function hasLiveMembers(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  try {
    const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
    const states = await Promise.all(pids.map((pid) => procState(pid)));
    return states.some((st) => st !== null && st.pgrp === pgid && st.state !== 'Z' && st.state !== 'X');
  } catch {
    return true; // no /proc to look at: trust kill(2)
  }
}

/** State and process group of one process from /proc/<pid>/stat; null if it is gone. */
async function procState(pid: string): Promise<{ state: string; pgrp: number } | null> {
  try {
    const stat = await readTextFile(`/proc/${pid}/stat`);
    // The command name is in parentheses and may itself contain spaces and parentheses.
    const [state = '', , pgrp = ''] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state, pgrp: Number(pgrp) };
  } catch {
    return null;
  }
}

function describeSpawnError(opts: RunProcessOptions, err: Error): string {
  // spawn blames the program for a missing working directory ("spawn ls ENOENT").
  if (opts.cwd !== undefined && !existsSync(opts.cwd)) return `cannot start ${opts.command}: working directory ${opts.cwd} does not exist`;
  return `cannot start ${opts.command}: ${err.message}`;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null, weSignalled: boolean): TaskOutcome {
  if (code !== null) return { exit_code: code, error: code === 0 ? null : `exited with code ${code}` };
  const name = signal ?? 'unknown signal';
  // A signal we did not send: the OOM killer (Android's low-memory killer) or a human.
  if (!weSignalled) return { exit_code: null, error: `killed by ${name}`, killed_by_signal: name };
  return { exit_code: null, error: `killed by ${name}` };
}

/**
 * Stops a process tree: SIGTERM to the group, SIGKILL to the group after the
 * grace period. The SIGKILL is sent even when the leader is already gone,
 * because its children may ignore SIGTERM.
 */
class TreeKiller {
  readonly graceMs: number;
  readonly #child: ChildProcess;
  #signalled = false;
  #leaderExited = false;
  #killTimer: NodeJS.Timeout | undefined;

  constructor(child: ChildProcess, graceMs: number) {
    this.#child = child;
    this.graceMs = graceMs;
  }

  get hasSignalled(): boolean {
    return this.#signalled;
  }

  /** Abort: stop everything the task started. */
  kill(): void {
    if (this.#signalled || this.#child.pid === undefined) return;
    this.#signalled = true;
    this.#terminate();
  }

  /** The leader is gone: stop what it left behind in its group, if anything. */
  exited(): void {
    this.#leaderExited = true;
    if (this.#signalled || this.#child.pid === undefined || IS_WINDOWS) return;
    this.#terminate();
  }

  #terminate(): void {
    const pid = this.#child.pid;
    if (pid === undefined) return;
    if (IS_WINDOWS) {
      if (!this.#leaderExited) killWindowsTree(pid);
      return;
    }
    if (!signalGroup(pid, 'SIGTERM')) return;
    clearTimeout(this.#killTimer);
    this.#killTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), this.graceMs);
    // A leftover group must not keep a worker that is shutting down alive.
    this.#killTimer.unref();
  }
}

/** Sends `signal` to the process group led by `pid`; false if the group is gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // ESRCH: nothing left; EPERM: not ours to kill
  }
}

function killWindowsTree(pid: number): void {
  const taskkill = spawn('taskkill', ['/T', '/F', '/PID', String(pid)], { stdio: 'ignore', windowsHide: true });
  taskkill.on('error', () => undefined);
}
