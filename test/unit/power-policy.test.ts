import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PHONE_DEFAULTS, PowerPolicy, type PowerReading } from '../../src/worker/power/policy.js';

const onBattery = (pct: number | null, temperatureC: number | null = 30): PowerReading => ({ batteryPercent: pct, plugged: false, temperatureC });
const plugged = (pct: number | null, temperatureC: number | null = 30): PowerReading => ({ batteryPercent: pct, plugged: true, temperatureC });

/** Feeds a script of readings and returns the decision after each. */
function run(readings: PowerReading[], cfg = PHONE_DEFAULTS): Array<string | null> {
  const policy = new PowerPolicy(cfg);
  return readings.map((r) => policy.update(r));
}

test('battery: pause below 30 %, hold between 30 and 40 %, resume only above 40 % (no flapping)', () => {
  const script = [50, 31, 30, 29.9, 31, 35, 29, 39, 40, 40.1, 35, 30].map((p) => onBattery(p));
  assert.deepEqual(run(script), [
    null, null, null, 'battery 29.9%', 'battery 31%', 'battery 35%', 'battery 29%', 'battery 39%', 'battery 40%', null, null, null,
  ]);
});

test('a charge wobbling around 30 % pauses once and stays paused until it passes 40 %', () => {
  const wobble = [30.5, 29.5, 30.5, 29.5, 30.5, 29.5, 30.5].map((p) => onBattery(p));
  const decisions = run(wobble);
  const changes = decisions.filter((d, i) => i > 0 && (d === null) !== (decisions[i - 1] === null)).length;
  assert.equal(changes, 1, `one change only: ${JSON.stringify(decisions)}`);
});

test('plugging in resumes at once, whatever the charge; unplugging low pauses again', () => {
  assert.deepEqual(run([onBattery(20), plugged(20), plugged(21), onBattery(21)]), ['battery 20%', null, null, 'battery 21%']);
});

test('only_when_charging: run while plugged in, pause on battery even when full', () => {
  const cfg = { ...PHONE_DEFAULTS, onlyWhenCharging: true };
  assert.deepEqual(run([plugged(90), onBattery(100), plugged(100)], cfg), [null, 'not charging (battery 100%)', null]);
});

test('heat: pause above 45 °C, resume at 40 °C (5 below), and heat wins over the battery reason', () => {
  const temps = [44, 45, 45.5, 44, 41, 40.5, 40, 46].map((t) => plugged(80, t));
  assert.deepEqual(run(temps), [null, null, 'temperature 45.5°C', 'temperature 44°C', 'temperature 41°C', 'temperature 40.5°C', null, 'temperature 46°C']);
  assert.deepEqual(run([onBattery(10, 50)]), ['temperature 50°C']);
});

test('unknown readings never pause, and do not end a pause either way by themselves', () => {
  assert.deepEqual(run([onBattery(null, null), { batteryPercent: 10, plugged: null, temperatureC: null }]), [null, null]);
  // Paused for heat; the sensor goes missing: unknown is not "cool", but we also do not guess "hot".
  assert.deepEqual(run([plugged(80, 50), plugged(80, null)]), ['temperature 50°C', null]);
});
