import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { FleetSim } from './fleet-sim.js';
import { BenchMaster, cpuPercentOver, processCost } from './master-proc.js';

export interface HeartbeatPhase {
  intervalS: number;
  cpuPercent: number;
  rssMb: number;
  lagP99Ms: number | null;
  heartbeatsPerS: number;
  /** Heartbeat rows the master stored during the phase (warm-up and window), against those sent in it. */
  persisted: number;
  sent: number;
}

export interface HeartbeatResult {
  devices: number;
  connectS: number;
  phases: HeartbeatPhase[];
}

/** 10,000 simulated devices on real sockets, heartbeating at 5 s, then 1 s: what does the master pay? */
export async function measureHeartbeats(devices: number, windowS: number, progress: (l: string) => void): Promise<HeartbeatResult> {
  const master = new BenchMaster(['--heartbeat-interval', '5', '--offline-after', '30', '--lost-after', '60']);
  await master.start();
  const t0 = performance.now();
  const ticker = setInterval(() => progress(`heartbeats: connecting ${devices} devices…`), 5000);
  const fleet = await FleetSim.start({ host: '127.0.0.1', port: master.tcpPort, devices, slots: 1, joinToken: master.secret('join-token'), heartbeatIntervalS: 5 }).finally(() => clearInterval(ticker));
  const connectS = Math.round((performance.now() - t0) / 100) / 10;
  progress(`heartbeats: ${fleet.stats.registered} devices registered in ${connectS} s`);
  try {
    const phases: HeartbeatPhase[] = [];
    for (const intervalS of [5, 1]) {
      phases.push(await measurePhase(master, fleet, intervalS, windowS));
      progress(`heartbeats: every ${intervalS} s → CPU ${phases.at(-1)!.cpuPercent} %`);
    }
    return { devices, connectS, phases };
  } finally {
    await fleet.close();
    await master.stop();
  }
}

/**
 * One phase, from a quiet fleet to a quiet fleet: every heartbeat sent in it
 * is counted against the rows stored since it began, so the two figures can
 * be compared exactly (a time window cut both ways missed or added a few).
 */
async function measurePhase(master: BenchMaster, fleet: FleetSim, intervalS: number, windowS: number): Promise<HeartbeatPhase> {
  fleet.stopHeartbeats();
  await sleep(1000);
  const phaseStartMs = Date.now();
  const sentBefore = fleet.stats.heartbeatsSent;
  fleet.setHeartbeatInterval(intervalS);
  await sleep(intervalS * 1000 + 2000);
  const windowSentBefore = fleet.stats.heartbeatsSent;
  const cpuPercent = await cpuPercentOver(master.pid, windowS * 1000);
  const heartbeatsPerS = Math.round((fleet.stats.heartbeatsSent - windowSentBefore) / windowS);
  const rssMb = processCost(master.pid).rssMb;
  const lagP99Ms = await eventLoopLagP99(master);
  fleet.stopHeartbeats();
  const sent = fleet.stats.heartbeatsSent - sentBefore;
  // Let the last batch (≤ 200 ms) land before counting rows.
  await sleep(1000);
  return { intervalS, cpuPercent, rssMb, lagP99Ms, heartbeatsPerS, persisted: countHeartbeats(master, phaseStartMs), sent };
}

/** prom-client's event-loop lag p99, from the master's own /metrics. */
async function eventLoopLagP99(master: BenchMaster): Promise<number | null> {
  const text = await (await fetch(`${master.url}/metrics`)).text();
  const m = /^rc_nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text);
  return m ? Math.round(Number(m[1]) * 100000) / 100 : null;
}

function countHeartbeats(master: BenchMaster, fromMs: number): number {
  const db = new Database(join(master.dataDir, 'retire-cluster.db'), { readonly: true });
  try {
    return Number(db.prepare('SELECT count(*) FROM heartbeats WHERE ts_ms >= ?').pluck().get(fromMs));
  } finally {
    db.close();
  }
}
