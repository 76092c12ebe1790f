import { setTimeout as sleep } from 'node:timers/promises';
import { FleetSim } from './fleet-sim.js';
import { BenchMaster, percentile } from './master-proc.js';
import { submitNoops } from './throughput.js';

const WARMUP_PROBES = 20;

export interface LatencyResult {
  probes: number;
  loadTasksPerS: number;
  assignP50Ms: number;
  assignP99Ms: number;
  resultP50Ms: number;
  resultP99Ms: number;
}

/**
 * Submit → assign (the task_assign reaches a device) and submit → result
 * (the master acknowledged the result, so it is stored), for probes sent one
 * at a time; with `loadPerS` > 0, other tasks arrive at that rate meanwhile.
 */
export async function measureLatency(probes: number, loadPerS: number): Promise<LatencyResult> {
  const master = new BenchMaster();
  await master.start();
  const sent = new Map<string, number>();
  const byTask = new Map<string, string>();
  const assignMs: number[] = [];
  const resultMs: number[] = [];
  let warmedUp = 0;
  const warmups = new Set<string>();
  const fleet = await FleetSim.start({
    host: '127.0.0.1', port: master.tcpPort, devices: 8, slots: 50, joinToken: master.secret('join-token'),
    onAssign: (taskId, at, data) => {
      const probe = String((data['payload'] as { message?: unknown } | undefined)?.message ?? '');
      if (probe.startsWith('warmup-')) warmups.add(taskId);
      const t0 = sent.get(probe);
      if (t0 === undefined) return;
      byTask.set(taskId, probe);
      assignMs.push(at - t0);
    },
    onResultAck: (taskId, at) => {
      if (warmups.delete(taskId)) warmedUp++;
      const probe = byTask.get(taskId);
      const t0 = probe === undefined ? undefined : sent.get(probe);
      if (t0 !== undefined) resultMs.push(at - t0);
    },
  });
  const probe = async (message: string, answered: () => boolean): Promise<void> => {
    const res = await master.post('/api/v1/tasks', { task_type: 'echo', payload: { message } });
    if (res.status !== 201) throw new Error(`probe ${message} refused: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    const deadline = performance.now() + 5000;
    while (!answered() && performance.now() < deadline) await sleep(1);
    await sleep(5);
  };
  let loading = loadPerS > 0;
  const load = (async () => {
    const batch = Math.max(1, Math.round(loadPerS / 20));
    for (let i = 0; loading; i++) {
      const t = performance.now();
      await submitNoops(master, batch, batch, `load-${i}`);
      await sleep(Math.max(0, 50 - (performance.now() - t)));
    }
  })();
  try {
    await sleep(loadPerS > 0 ? 1000 : 200);
    // The first requests pay for JIT compilation of every path they take (the
    // very first took 60 ms): warm up, then measure the steady state.
    for (let i = 0; i < WARMUP_PROBES; i++) await probe(`warmup-${i}`, () => warmedUp >= i + 1);
    for (let i = 0; i < probes; i++) {
      const name = `probe-${i}`;
      sent.set(name, performance.now());
      await probe(name, () => resultMs.length > i);
    }
  } finally {
    loading = false;
    await load;
    await fleet.close();
    await master.stop();
  }
  const ms = (v: number): number => Math.round(v * 100) / 100;
  return { probes, loadTasksPerS: loadPerS, assignP50Ms: ms(percentile(assignMs, 50)), assignP99Ms: ms(percentile(assignMs, 99)), resultP50Ms: ms(percentile(resultMs, 50)), resultP99Ms: ms(percentile(resultMs, 99)) };
}
