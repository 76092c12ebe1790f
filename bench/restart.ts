import { setTimeout as sleep } from 'node:timers/promises';
import { BenchMaster } from './master-proc.js';
import { submitNoops } from './throughput.js';

export interface RestartResult {
  queued: number;
  /** kill -9 → /health answers. */
  healthMs: number;
  /** kill -9 → a new task is accepted (201). */
  servingMs: number;
}

/** With `queued` tasks waiting (no devices), kill -9 the master and time it back to serving. */
export async function measureRestart(queued: number, progress: (l: string) => void): Promise<RestartResult> {
  const master = new BenchMaster();
  await master.start();
  try {
    await submitNoops(master, queued, 10_000, 'queued');
    progress(`restart: ${queued} tasks queued; kill -9`);
    const t0 = performance.now();
    await master.kill('SIGKILL');
    const starting = master.start();
    let healthMs = Number.NaN;
    for (;;) {
      const ok = master.httpPort !== 0 && (await fetch(`${master.url}/health`).then((r) => r.ok, () => false));
      if (ok) {
        healthMs = performance.now() - t0;
        break;
      }
      await sleep(2);
    }
    // Same ports as before the kill, so there is no need to wait for master.json:
    // the master accepts tasks while it still reads its queue.
    for (;;) {
      const res = await master.post('/api/v1/tasks', { task_type: 'echo', payload: { message: 'after restart' } }).catch(() => null);
      if (res?.status === 201) break;
      await sleep(2);
    }
    const servingMs = Math.round(performance.now() - t0);
    await starting;
    return { queued, healthMs: Math.round(healthMs), servingMs };
  } finally {
    await master.stop();
  }
}
