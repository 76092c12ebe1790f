import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FAULT_KINDS, formatReport, runChaos } from '../helpers/chaos.js';

// The short chaos run: fewer tasks, one fault of each kind. The full run is `npm run chaos`.
const SEED = 20261124;

test(`short chaos run (seed ${SEED}): every invariant holds under worker and master kill -9, cuts, latency and a partition`, async () => {
  const lines: string[] = [];
  const report = await runChaos({
    seed: SEED, tasks: 300, workers: 3, slots: 4, faults: FAULT_KINDS.length, kinds: FAULT_KINDS, timeoutS: 90, maxRssMb: 300,
    print: (line) => lines.push(line),
  });
  const summary = formatReport(report, `npm run chaos -- --seed ${SEED} --tasks 300 --workers 3 --faults ${FAULT_KINDS.length}`);
  for (const kind of ['kill -9 worker', 'kill -9 master', 'proxy cut', 'latency', 'partition']) {
    assert.ok(report.faults.some((f) => f.startsWith(kind)), `a "${kind}" fault was injected:\n${lines.join('\n')}`);
  }
  for (const inv of report.invariants) assert.ok(inv.ok, `${inv.name}: ${inv.detail}\n${summary}\n${lines.join('\n')}`);
  assert.equal(report.counts['submitted'], 300);
  assert.equal(report.passed, true);
});
