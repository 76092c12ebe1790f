import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buildClusterStatus, type ClusterStatus } from '../master/cluster-summary.js';
import { CONTENT_TYPES, renderTable, type Column, type TableFormat } from './render/table.js';
import type { HttpDeps } from './server.js';

const HOUR_MS = 60 * 60 * 1000;

type StatusValue = string | number;

/** Gather the figures: devices and queue from memory, task counts from the store's indexes, sizes from disk. */
export async function collectClusterStatus(deps: HttpDeps): Promise<ClusterStatus> {
  const nowMs = Date.now();
  const active = deps.store.countActiveTasks();
  return buildClusterStatus({
    devices: deps.registry.list(),
    drainedCount: deps.registry.drainedCount,
    queued: deps.tasks.queueSizes(),
    active: { assigned: active.assigned, running: active.running },
    finishedLastHour: deps.store.countFinishedSince(nowMs - HOUR_MS),
    uptimeS: Math.round((nowMs - deps.startedAtMs) / 1000),
    version: deps.version,
    dataDirBytes: await dataDirBytes(deps.dataDir),
    nowMs,
  });
}

/**
 * The flat `key: value` view of /text/status (and its json/csv/tsv forms),
 * in display order. Keys are what the machine formats use.
 */
export function statusFields(s: ClusterStatus): Array<[string, StatusValue]> {
  return [
    ['devices_online', s.devices.online],
    ['devices_suspect', s.devices.suspect],
    ['devices_offline', s.devices.offline],
    ['devices_drained', s.devices.drained],
    ['cpu_cores', s.resources.cpu_cores],
    ['memory_gb', s.resources.memory_gb],
    ['storage_gb', s.resources.storage_gb],
    ['queued_urgent', s.queue.urgent],
    ['queued_high', s.queue.high],
    ['queued_normal', s.queue.normal],
    ['queued_low', s.queue.low],
    ['tasks_assigned', s.tasks.assigned],
    ['tasks_running', s.tasks.running],
    ['succeeded_last_hour', s.finished_last_hour.succeeded],
    ['failed_last_hour', s.finished_last_hour.failed],
    ['timed_out_last_hour', s.finished_last_hour.timed_out],
    ['cancelled_last_hour', s.finished_last_hour.cancelled],
    ['uptime_s', s.uptime_s],
    ['version', s.version],
    ['data_dir_bytes', s.data_dir_bytes],
  ];
}

/** text: aligned `key: value` lines; json: one object; csv/tsv: a header line and one row. */
export function renderStatus(fields: ReadonlyArray<[string, StatusValue]>, format: TableFormat): { type: string; body: string } {
  if (format === 'text') return { type: CONTENT_TYPES.text, body: keyValueLines(fields) };
  if (format === 'json') return { type: CONTENT_TYPES.json, body: `${JSON.stringify(Object.fromEntries(fields))}\n` };
  const columns: Column<null>[] = fields.map(([key, value]) => ({ header: key, key, value: () => value }));
  return { type: CONTENT_TYPES[format], body: renderTable(columns, [null], format) };
}

function keyValueLines(fields: ReadonlyArray<[string, StatusValue]>): string {
  const width = Math.max(...fields.map(([key]) => key.length)) + 1;
  return fields.map(([key, value]) => `${`${key}:`.padEnd(width)} ${value}`).join('\n') + '\n';
}

/**
 * Bytes of the regular files directly in the data dir: the database with its
 * -wal and -shm files, the token and runtime files. Not recursive.
 */
export async function dataDirBytes(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true });
  const sizes = await Promise.all(entries.filter((e) => e.isFile()).map((e) => fileSize(join(dir, e.name))));
  return sizes.reduce((a, b) => a + b, 0);
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (err) {
    // A file removed between readdir and stat (a checkpointed -wal) counts as nothing.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}
