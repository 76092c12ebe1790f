import { readFileSync } from 'node:fs';

/**
 * Whether `pid` still runs. A zombie counts as gone: it has exited and only
 * waits for a parent to reap it, which in some containers never happens
 * (their PID 1 does not reap orphans).
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/s.test(stat);
  } catch {
    return process.platform !== 'linux';
  }
}
