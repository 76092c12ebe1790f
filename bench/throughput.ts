import { FleetSim } from './fleet-sim.js';
import { BenchMaster } from './master-proc.js';

export interface ThroughputResult {
  tasks: number;
  seconds: number;
  tasksPerS: number;
  duplicateAssigns: number;
}

/** Submit in batches through the HTTP batch API; each batch is one transaction on the master. */
export async function submitNoops(master: BenchMaster, count: number, batch = 5000, label = 'bench'): Promise<void> {
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i);
    const body = Array.from({ length: n }, (_, j) => ({ task_type: 'echo', payload: { message: `${label}-${i + j}` } }));
    // Like rc batch: a bulk client needs the ids, not 5,000 whole task views back.
    const res = await master.post('/api/v1/tasks', body, 'return=minimal');
    if (res.status !== 201) throw new Error(`batch submit failed: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  }
}

/** `count` no-op tasks, `devices` simulated workers × `slots`; first submit → last result persisted (acked). */
export async function measureThroughput(count: number, devices: number, slots: number, progress: (line: string) => void): Promise<ThroughputResult> {
  const master = new BenchMaster();
  await master.start();
  let last = 0;
  let done = 0;
  let resolveDone: () => void = () => undefined;
  const allDone = new Promise<void>((r) => (resolveDone = r));
  const fleet = await FleetSim.start({
    host: '127.0.0.1', port: master.tcpPort, devices, slots, joinToken: master.secret('join-token'),
    onResultAck: (_id, at) => {
      last = at;
      if (++done === count) resolveDone();
    },
  });
  try {
    const t0 = performance.now();
    const ticker = setInterval(() => progress(`throughput: ${done}/${count} results persisted`), 2000);
    await submitNoops(master, count);
    await allDone;
    clearInterval(ticker);
    const seconds = (last - t0) / 1000;
    return { tasks: count, seconds: Math.round(seconds * 100) / 100, tasksPerS: Math.round(count / seconds), duplicateAssigns: fleet.stats.duplicateAssigns };
  } finally {
    await fleet.close();
    await master.stop();
  }
}
