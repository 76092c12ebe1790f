import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { detectDeviceKind } from '../../src/worker/device-kind.js';
import { createPowerReader, parseTermuxBattery, readThermalZones, type ProbeSources } from '../../src/worker/power/readings.js';

const HANG = (): Promise<never> => new Promise(() => undefined);
// Probe timers are unref'd (a probe must not keep a stopping worker alive); keep the test process up meanwhile.
const keepAlive = setInterval(() => undefined, 1000);
after(() => clearInterval(keepAlive));
const enoent = (): Promise<never> => Promise.reject(Object.assign(new Error('spawn termux-battery-status ENOENT'), { code: 'ENOENT' }));

function sources(over: Partial<ProbeSources>): ProbeSources & { runs: string[] } {
  const runs: string[] = [];
  return {
    runs,
    run: (cmd) => {
      runs.push(cmd);
      return enoent();
    },
    readFile: () => Promise.reject(new Error('EACCES')),
    readDir: () => Promise.reject(new Error('ENOENT')),
    systemBattery: () => Promise.resolve(null),
    ...over,
  };
}

const TERMUX = JSON.stringify({ health: 'GOOD', percentage: 28, plugged: 'UNPLUGGED', status: 'DISCHARGING', temperature: 31.5, current: -200 });

test('termux-battery-status: percent, plugged, temperature and health; garbage is unknown field by field', () => {
  assert.deepEqual(parseTermuxBattery(TERMUX), { percent: 28, plugged: false, temperatureC: 31.5, health: 'GOOD' });
  assert.equal(parseTermuxBattery('{"percentage": 80, "plugged": "PLUGGED_AC"}')?.plugged, true);
  assert.equal(parseTermuxBattery('not json'), null);
  assert.equal(parseTermuxBattery('[1,2]')?.percent, null);
  assert.deepEqual(parseTermuxBattery('{"percentage": 900, "plugged": 3, "temperature": "hot", "health": null}'), { percent: null, plugged: null, temperatureC: null, health: null });
});

test('thermal zones: the hottest readable zone in °C; unreadable or absurd zones are skipped', async () => {
  const files: Record<string, string> = { '/t/thermal_zone0/temp': '41500\n', '/t/thermal_zone1/temp': '52000', '/t/thermal_zone2/temp': 'garbage', '/t/thermal_zone3/temp': '999999999' };
  const src = sources({ readDir: async () => ['thermal_zone0', 'thermal_zone1', 'thermal_zone2', 'thermal_zone3', 'cooling_device0'], readFile: async (p) => files[p] ?? Promise.reject(new Error('EACCES')) });
  assert.equal(await readThermalZones(src, '/t'), 52);
  const none = sources({ readDir: async () => ['thermal_zone0'] });
  assert.equal(await readThermalZones(none, '/t'), null);
});

test('the reader uses Termux first, then the system battery; failures are unknown, never guessed', async () => {
  const phone = await createPowerReader(sources({ run: async () => TERMUX }), 200)();
  assert.deepEqual({ b: phone.batteryPercent, p: phone.plugged, t: phone.temperatureC }, { b: 28, p: false, t: 31.5 });
  const laptop = await createPowerReader(sources({ systemBattery: async () => ({ percent: 64, plugged: true }) }), 200)();
  assert.deepEqual({ b: laptop.batteryPercent, p: laptop.plugged, t: laptop.temperatureC }, { b: 64, p: true, t: null });
  const broken = await createPowerReader(sources({ run: () => Promise.reject(new Error('boom')), systemBattery: () => Promise.reject(new Error('boom')) }), 200)();
  assert.deepEqual({ b: broken.batteryPercent, p: broken.plugged, t: broken.temperatureC }, { b: null, p: null, t: null });
});

test('hanging probes time out to unknown, and the reader still answers in time', async () => {
  const started = Date.now();
  const r = await createPowerReader(sources({ run: HANG, readDir: HANG, systemBattery: HANG }), 100)();
  assert.deepEqual({ b: r.batteryPercent, p: r.plugged, t: r.temperatureC }, { b: null, p: null, t: null });
  assert.ok(Date.now() - started < 2000, 'bounded by the probe timeouts');
});

test('a missing termux-battery-status is not spawned again on every sample', async () => {
  let now = 0;
  const src = sources({});
  const read = createPowerReader(src, 100, () => now);
  await read();
  await read();
  assert.equal(src.runs.length, 1);
  now += 11 * 60_000;
  await read();
  assert.equal(src.runs.length, 2, 'asked again after a while (Termux:API may have been installed)');
});

test('device kind: Termux by its environment, a Pi by its device tree, else laptop/server by the battery, else unknown', async () => {
  const getprop = sources({ run: async (cmd) => (cmd === 'getprop' ? 'Pixel 3a\n' : enoent()) });
  assert.deepEqual(await detectDeviceKind(true, { env: { TERMUX_VERSION: '0.118' }, src: getprop }), { kind: 'termux', model: 'Pixel 3a' });
  assert.deepEqual(await detectDeviceKind(null, { env: { PREFIX: '/data/data/com.termux/files/usr' }, src: sources({ run: HANG }), timeoutMs: 50 }), { kind: 'termux', model: null });
  const pi = sources({ readFile: async () => 'Raspberry Pi 4 Model B Rev 1.4\0' });
  assert.deepEqual(await detectDeviceKind(false, { env: {}, src: pi }), { kind: 'raspberry_pi', model: 'Raspberry Pi 4 Model B Rev 1.4' });
  assert.deepEqual(await detectDeviceKind(true, { env: {}, src: sources({}) }), { kind: 'laptop', model: null });
  assert.deepEqual(await detectDeviceKind(false, { env: {}, src: sources({}) }), { kind: 'server', model: null });
  assert.deepEqual(await detectDeviceKind(null, { env: {}, src: sources({ readFile: HANG }), timeoutMs: 50 }), { kind: null, model: null });
});
