import type { FastifyInstance } from 'fastify';
import type { DeviceRegistry } from '../../master/registry.js';
import type { DeviceRecord } from '../../store/store.js';
import { DEVICE_FILTER_PARAMS, MAX_PAGE_SIZE, parseDeviceFilter } from '../device-query.js';
import { assertKnownParams, intParam, tableFormat, type RawQuery } from '../query-params.js';
import { CONTENT_TYPES, renderTable, type Column, type TableFormat } from '../render/table.js';

const PARAMS = [...DEVICE_FILTER_PARAMS, 'limit', 'format'];

/** What the device table needs to know beyond the record. */
export interface DeviceFlags {
  isDrained(deviceId: string): boolean;
  isUnstable(deviceId: string): boolean;
}

/**
 * One line per device (issue: /text/devices). For people, STATUS adds the
 * flags to the liveness state: `online,drained`, `online,unstable`, and an
 * online device that paused itself reads `paused (battery 28%)`; the machine
 * formats keep `status` the liveness state alone and add `drained`,
 * `unstable`, `paused` and `pause_reason`, so programs that compare `status`
 * to `online` keep working.
 */
export function deviceColumns(flags: DeviceFlags, format: TableFormat): Column<DeviceRecord>[] {
  const status: Column<DeviceRecord>[] =
    format === 'text'
      ? [{ header: 'STATUS', key: 'status', value: (d) => statusText(d, flags) }]
      : [
          { header: 'STATUS', key: 'status', value: (d) => d.state },
          { header: 'DRAINED', key: 'drained', value: (d) => flags.isDrained(d.device_id) },
          { header: 'UNSTABLE', key: 'unstable', value: (d) => flags.isUnstable(d.device_id) },
          { header: 'PAUSED', key: 'paused', value: (d) => pauseOf(d) !== null },
          { header: 'PAUSE_REASON', key: 'pause_reason', value: (d) => pauseOf(d) },
        ];
  return [
    { header: 'DEVICE', key: 'device_id', value: (d) => d.device_id },
    ...status,
    { header: 'ROLE', key: 'role', value: (d) => d.profile.role },
    { header: 'PLATFORM', key: 'platform', value: (d) => d.profile.platform },
    { header: 'ARCH', key: 'arch', value: (d) => d.profile.arch },
    { header: 'CORES', key: 'cpu_count', value: (d) => d.profile.cpu_count, alignRight: true },
    { header: 'MEM_GB', key: 'memory_total_gb', value: (d) => fixed(d.profile.memory_total_gb, 1), alignRight: true, decimals: 1 },
    { header: 'CPU%', key: 'cpu_usage', value: (d) => fixed(metric(d, 'cpu_usage'), 1), alignRight: true, decimals: 1 },
    { header: 'MEM%', key: 'memory_usage', value: (d) => fixed(metric(d, 'memory_usage'), 1), alignRight: true, decimals: 1 },
    { header: 'LAST_SEEN', key: 'last_seen', value: (d) => new Date(d.last_seen_ms).toISOString() },
  ];
}

/**
 * The reason an online device takes no new task (its heartbeat said so: power
 * policy, shutting down), or null. Offline devices are not "paused": their last word is stale.
 */
export function pauseOf(d: DeviceRecord): string | null {
  const m = d.last_metrics;
  if (d.state !== 'online' || m?.['paused'] !== true) return null;
  return typeof m['pause_reason'] === 'string' ? m['pause_reason'] : 'paused';
}

function statusText(d: DeviceRecord, flags: DeviceFlags): string {
  const pause = pauseOf(d);
  const parts: string[] = [pause === null ? d.state : `paused (${pause})`];
  if (flags.isDrained(d.device_id)) parts.push('drained');
  if (flags.isUnstable(d.device_id)) parts.push('unstable');
  return parts.join(',');
}

function metric(d: DeviceRecord, key: string): number | null {
  const v = d.last_metrics?.[key];
  return typeof v === 'number' ? v : null;
}

function fixed(v: number | null, digits: number): number | null {
  return v === null ? null : Number(v.toFixed(digits));
}

/** Filters: status, role, tag, device_id; `limit` keeps the first rows (by device id). */
export function registerDevicesText(app: FastifyInstance, registry: DeviceRegistry): void {
  app.get<{ Querystring: RawQuery }>('/text/devices', async (req, reply) => {
    assertKnownParams(req.query, PARAMS);
    const format = tableFormat(req.query, req.headers.accept);
    const filter = parseDeviceFilter(req.query);
    const limit = intParam(req.query, 'limit', { min: 1, max: MAX_PAGE_SIZE });
    const rows = registry.list(filter).slice(0, limit);
    const columns = deviceColumns(registry, format);
    return reply.type(CONTENT_TYPES[format]).send(renderTable(columns, rows, format));
  });
}
