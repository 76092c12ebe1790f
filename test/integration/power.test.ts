import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Api, FINAL } from '../helpers/api.js';
import { startMaster, startWorker, tempDir } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

/** A stand-in for Termux:API's `termux-battery-status` that prints whatever the test last wrote. */
function fakeTermuxApi(root: string): { binDir: string; setBattery(percentage: number, plugged: string, temperature?: number): void } {
  const binDir = join(root, 'bin');
  const reading = join(root, 'battery.json');
  mkdirSync(binDir);
  writeFileSync(join(binDir, 'termux-battery-status'), `#!/bin/sh\ncat '${reading}'\n`);
  chmodSync(join(binDir, 'termux-battery-status'), 0o755);
  return {
    binDir,
    setBattery: (percentage, plugged, temperature = 30) => writeFileSync(reading, JSON.stringify({ health: 'GOOD', percentage, plugged, status: 'DISCHARGING', temperature })),
  };
}

test('a phone on battery below 30 % pauses: shown as paused, assigned nothing, and resumes above 40 %', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master') });
  const api = new Api(m.httpUrl, m.dataDir);
  const termux = fakeTermuxApi(root);
  termux.setBattery(28, 'UNPLUGGED');
  startWorker(t, m, {
    dataDir: join(root, 'phone'), deviceId: 'phone',
    extraArgs: ['--power-check', '0.2'],
    env: { PATH: `${termux.binDir}:${process.env['PATH'] ?? ''}`, TERMUX_VERSION: '0.118' },
  });
  await waitFor(async () => /^phone\s+paused \(battery 28%\)\s/m.test(await (await fetch(`${m.httpUrl}/text/devices`)).text()), 20_000, '/text/devices shows the pause');
  const device = (await api.request('GET', '/api/v1/devices/phone')).body as Record<string, unknown> & { metrics: { battery: Record<string, unknown> } };
  assert.equal(device['paused'], true);
  assert.equal(device['pause_reason'], 'battery 28%');
  assert.equal(device['device_kind'], 'termux');
  assert.deepEqual(device.metrics.battery, { percent: 28, charging: false, plugged: false, temperature_c: 30, health: 'GOOD' });

  const task = await api.submit({ task_type: 'echo', payload: { message: 'charged' } });
  await new Promise((r) => setTimeout(r, 1500));
  const waiting = await api.task(task.task_id);
  assert.equal(waiting.status, 'queued', 'a paused device receives no task');
  assert.equal(waiting.attempts, 0);
  assert.match(waiting.wait_reason ?? '', /paused \(battery 28%\)/);

  termux.setBattery(35, 'UNPLUGGED');
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal((await api.task(task.task_id)).status, 'queued', 'hysteresis: 35 % is not enough to resume');

  termux.setBattery(50, 'UNPLUGGED');
  const done = await api.waitForStatus(task.task_id, [...FINAL], 20_000);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.device_id, 'phone');
  assert.equal(done.attempts, 1, 'never sent to the device while it was paused');
  assert.match(await (await fetch(`${m.httpUrl}/text/devices`)).text(), /^phone\s+online\s/m);
});

test('a hot device pauses above 45 °C even when plugged in', async (t) => {
  const root = tempDir(t);
  const m = await startMaster(t, { dataDir: join(root, 'master') });
  const termux = fakeTermuxApi(root);
  termux.setBattery(90, 'PLUGGED_AC', 47);
  startWorker(t, m, { dataDir: join(root, 'phone'), deviceId: 'phone', extraArgs: ['--power-check', '0.2'], env: { PATH: `${termux.binDir}:${process.env['PATH'] ?? ''}` } });
  await waitFor(async () => /^phone\s+paused \(temperature 47°C\)\s/m.test(await (await fetch(`${m.httpUrl}/text/devices`)).text()), 20_000, 'paused for heat');
  termux.setBattery(90, 'PLUGGED_AC', 39);
  await waitFor(async () => /^phone\s+online\s/m.test(await (await fetch(`${m.httpUrl}/text/devices`)).text()), 20_000, 'resumed once cool');
});

test('a worker that starts paused says so right after registering, not one (long) heartbeat interval later', async (t) => {
  const root = tempDir(t);
  // Heartbeats every 30 s: only the immediate one can show the pause within the wait below.
  const m = await startMaster(t, { dataDir: join(root, 'master'), heartbeatIntervalS: 30, offlineAfterS: 90, extraArgs: ['--lost-after', '120'] });
  const termux = fakeTermuxApi(root);
  termux.setBattery(12, 'UNPLUGGED');
  startWorker(t, m, { dataDir: join(root, 'phone'), deviceId: 'phone', extraArgs: ['--power-check', '0.2'], env: { PATH: `${termux.binDir}:${process.env['PATH'] ?? ''}` } });
  await waitFor(async () => /^phone\s+paused \(battery 12%\)\s/m.test(await (await fetch(`${m.httpUrl}/text/devices`)).text()), 10_000, 'paused shown within seconds');
});
