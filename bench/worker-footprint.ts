import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findPackageRoot } from '../src/common/package-root.js';
import { BenchMaster, cpuPercentOver, percentile, processCost } from './master-proc.js';

export interface WorkerFootprint {
  registeredMs: number;
  /** Median of readings every 250 ms over the idle window; the max beside it. */
  idleRssMb: number;
  idleRssMaxMb: number;
  idleCpuPercent: number;
}

/** The real rc-worker (bin/rc-worker.js, or `script`, e.g. the one-file bundle, under `nodeFlags`): start → registered, then its idle RSS and CPU. */
export async function measureWorker(idleS: number, script = join(findPackageRoot(), 'bin', 'rc-worker.js'), nodeFlags: readonly string[] = []): Promise<WorkerFootprint> {
  const master = new BenchMaster();
  await master.start();
  const dataDir = mkdtempSync(join(tmpdir(), 'rc-bench-worker-'));
  const t0 = performance.now();
  const worker = spawn(process.execPath, [...nodeFlags, script, '--join', `127.0.0.1:${master.tcpPort}`, '--token', master.secret('join-token'), '--data-dir', dataDir, '--device-id', 'footprint', '--log-level', 'warn'], { stdio: 'ignore' });
  try {
    let registeredMs = Number.NaN;
    while (Number.isNaN(registeredMs)) {
      const rows = (await (await fetch(`${master.url}/text/devices?format=json`)).json()) as Array<{ device_id: string; status: string }>;
      if (rows.some((r) => r.device_id === 'footprint' && r.status === 'online')) registeredMs = performance.now() - t0;
      else await sleep(10);
    }
    await sleep(3000);
    // RSS moves with the GC's timing: one reading at the end was up to 10 MB off, so take the median of many.
    const rss: number[] = [];
    const sampler = setInterval(() => rss.push(processCost(worker.pid!).rssMb), 250);
    const idleCpuPercent = await cpuPercentOver(worker.pid!, idleS * 1000).finally(() => clearInterval(sampler));
    return { registeredMs: Math.round(registeredMs), idleRssMb: percentile(rss, 50), idleRssMaxMb: Math.max(...rss), idleCpuPercent };
  } finally {
    worker.kill('SIGKILL');
    await master.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
