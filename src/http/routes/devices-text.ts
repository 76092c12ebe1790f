import type { FastifyInstance } from 'fastify';
import { RcError } from '../../common/errors.js';
import type { DeviceRegistry } from '../../master/registry.js';
import type { DeviceRecord, DeviceState } from '../../store/store.js';
import { CONTENT_TYPES, negotiateFormat, renderTable, type Column } from '../render/table.js';

const STATES: readonly string[] = ['online', 'suspect', 'offline', 'all'];

/** One aligned line per device (issue: /text/devices). */
export const DEVICE_COLUMNS: readonly Column<DeviceRecord>[] = [
  { header: 'DEVICE', key: 'device_id', value: (d) => d.device_id },
  { header: 'STATUS', key: 'status', value: (d) => d.state },
  { header: 'ROLE', key: 'role', value: (d) => d.profile.role },
  { header: 'PLATFORM', key: 'platform', value: (d) => d.profile.platform },
  { header: 'ARCH', key: 'arch', value: (d) => d.profile.arch },
  { header: 'CORES', key: 'cpu_count', value: (d) => d.profile.cpu_count, alignRight: true },
  { header: 'MEM_GB', key: 'memory_total_gb', value: (d) => fixed(d.profile.memory_total_gb, 1), alignRight: true, decimals: 1 },
  { header: 'CPU%', key: 'cpu_usage', value: (d) => fixed(metric(d, 'cpu_usage'), 1), alignRight: true, decimals: 1 },
  { header: 'MEM%', key: 'memory_usage', value: (d) => fixed(metric(d, 'memory_usage'), 1), alignRight: true, decimals: 1 },
  { header: 'LAST_SEEN', key: 'last_seen', value: (d) => new Date(d.last_seen_ms).toISOString() },
];

function metric(d: DeviceRecord, key: string): number | null {
  const v = d.last_metrics?.[key];
  return typeof v === 'number' ? v : null;
}

function fixed(v: number | null, digits: number): number | null {
  return v === null ? null : Number(v.toFixed(digits));
}

interface DevicesQuery {
  status?: string;
  role?: string;
  format?: string;
}

export function registerDevicesText(app: FastifyInstance, registry: DeviceRegistry): void {
  app.get<{ Querystring: DevicesQuery }>('/text/devices', async (req, reply) => {
    const format = negotiateFormat(req.query.format, req.headers.accept);
    if (format === null) throw badRequest(`format must be one of text, json, csv, tsv`);
    const status = req.query.status ?? 'all';
    if (!STATES.includes(status)) throw badRequest(`status must be one of ${STATES.join(', ')}`);
    const rows = registry.list({ state: status as DeviceState | 'all', role: req.query.role });
    return reply.type(CONTENT_TYPES[format]).send(renderTable(DEVICE_COLUMNS, rows, format));
  });
}

function badRequest(message: string): RcError {
  return new RcError('RC_ERR_HTTP_BAD_REQUEST', message, { status: 400 });
}
