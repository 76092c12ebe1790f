import os from 'node:os';
import { isoTime } from '../../common/iso-time.js';
import { detectPlatform } from '../profile.js';
import { builtinPayloadSchema } from '../../protocol/task-payloads.js';
import type { TaskTypeDefinition } from './types.js';

const BYTES_PER_GB = 1024 ** 3;

/**
 * A fresh sample of the device, from `os` facts only: they cost microseconds,
 * where the register profile's probes (systeminformation) can take seconds.
 */
export function sampleSystemInfo(): Record<string, unknown> {
  const cpus = os.cpus();
  const [load1, load5, load15] = os.loadavg();
  return {
    hostname: os.hostname(),
    platform: detectPlatform(),
    arch: process.arch,
    os_type: os.type(),
    os_release: os.release(),
    cpu_count: cpus.length,
    cpu_model: cpus[0]?.model.trim() || null,
    load_average: [load1, load5, load15],
    memory_total_gb: round(os.totalmem() / BYTES_PER_GB),
    memory_free_gb: round(os.freemem() / BYTES_PER_GB),
    uptime_s: Math.round(os.uptime()),
    node_version: process.version,
    timestamp: isoTime(Date.now()),
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** `system_info {}`: the output is one JSON object describing the device now. */
export const systemInfoTask: TaskTypeDefinition = {
  name: 'system_info',
  payloadSchema: builtinPayloadSchema('system_info'),
  run(ctx) {
    ctx.output.write('stdout', JSON.stringify(sampleSystemInfo()));
    return Promise.resolve({ exit_code: 0, error: null });
  },
};
