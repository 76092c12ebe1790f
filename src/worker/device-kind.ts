/**
 * What kind of device this is (issue #7), for people and for placement:
 * `termux` (an Android phone), `raspberry_pi`, `laptop` or `server`, with a
 * model name where the system states one. Only what is detected is said:
 * without a positive sign the kind is null (unknown), never a guess.
 */
import { probe } from '../common/with-timeout.js';
import { realSources, type ProbeSources } from './power/readings.js';

export type DeviceKind = 'termux' | 'raspberry_pi' | 'laptop' | 'server';

export interface DeviceKindFacts {
  kind: DeviceKind | null;
  model: string | null;
}

export const DEVICE_TREE_MODEL = '/proc/device-tree/model';

export function isTermux(env: NodeJS.ProcessEnv): boolean {
  return env['TERMUX_VERSION'] !== undefined || (env['PREFIX'] ?? '').includes('com.termux');
}

/** `hasBattery` comes from the profile: true → laptop, false → server, null → unknown. */
export async function detectDeviceKind(hasBattery: boolean | null, opts: { env?: NodeJS.ProcessEnv; src?: ProbeSources; timeoutMs?: number } = {}): Promise<DeviceKindFacts> {
  const env = opts.env ?? process.env;
  const src = opts.src ?? realSources;
  const t = opts.timeoutMs ?? 3000;
  if (isTermux(env)) {
    const model = await probe(() => src.run('getprop', ['ro.product.model'], t), t, null);
    return { kind: 'termux', model: clean(model) };
  }
  const treeModel = clean(await probe(() => src.readFile(DEVICE_TREE_MODEL), t, null));
  if (treeModel !== null && /raspberry pi/i.test(treeModel)) return { kind: 'raspberry_pi', model: treeModel };
  if (hasBattery === true) return { kind: 'laptop', model: treeModel };
  if (hasBattery === false) return { kind: 'server', model: treeModel };
  return { kind: null, model: treeModel };
}

/** Device-tree strings end in NUL; command output in a newline. Empty is unknown. */
function clean(text: string | null): string | null {
  if (text === null) return null;
  const s = text.replace(/\0/g, '').trim();
  return s === '' ? null : s.slice(0, 200);
}
