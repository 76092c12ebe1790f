import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findPackageRoot } from '../src/common/package-root.js';
import { BenchMaster, cpuPercentOver, processCost } from './master-proc.js';

export interface WorkerFootprint {
  registeredMs: number;
  idleRssMb: number;
  idleCpuPercent: number;
}

/** The real rc-worker: start → registered, then its idle RSS and CPU. */
export async function measureWorker(idleS: number): Promise<WorkerFootprint> {
  const master = new BenchMaster();
  await master.start();
  const dataDir = mkdtempSync(join(tmpdir(), 'rc-bench-worker-'));
  const t0 = performance.now();
  const worker = spawn(process.execPath, [join(findPackageRoot(), 'bin', 'rc-worker.js'), '--join', `127.0.0.1:${master.tcpPort}`, '--token', master.secret('join-token'), '--data-dir', dataDir, '--device-id', 'footprint', '--log-level', 'warn'], { stdio: 'ignore' });
  try {
    let registeredMs = Number.NaN;
    while (Number.isNaN(registeredMs)) {
      const rows = (await (await fetch(`${master.url}/text/devices?format=json`)).json()) as Array<{ device_id: string; status: string }>;
      if (rows.some((r) => r.device_id === 'footprint' && r.status === 'online')) registeredMs = performance.now() - t0;
      else await sleep(10);
    }
    await sleep(3000);
    const idleCpuPercent = await cpuPercentOver(worker.pid!, idleS * 1000);
    return { registeredMs: Math.round(registeredMs), idleRssMb: processCost(worker.pid!).rssMb, idleCpuPercent };
  } finally {
    worker.kill('SIGKILL');
    await master.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
