import { ProtocolError } from '../../common/errors.js';
import { createAck } from '../../protocol/codec.js';
import { MASTER_ID, type DeviceInfoData, type Envelope, type ListDevicesData } from '../../protocol/types.js';
import type { Connection } from '../../transport/connection.js';
import { summarizeCluster } from '../cluster-summary.js';
import { toDeviceView } from '../device-view.js';
import type { HandlerContext } from './context.js';

const RECENT_HEARTBEATS = 20;

/** PROTOCOL §5.7: the old Python `status` reply, field for field. */
export function handleStatus(msg: Envelope<'status', { role?: string }>, conn: Connection, ctx: HandlerContext): void {
  const devices = ctx.registry.list({ role: msg.data.role });
  const views = devices.map((d) => toDeviceView(d, ctx.registry.isConnected(d.device_id)));
  conn.send(
    createAck(msg, {
      cluster_stats: summarizeCluster(devices),
      online_devices: views.filter((v) => v.status === 'online').map((v) => v.device_id),
      device_list: views,
      timestamp: new Date().toISOString(),
    }, MASTER_ID),
  );
}

export function handleListDevices(msg: Envelope<'list_devices', ListDevicesData>, conn: Connection, ctx: HandlerContext): void {
  const status = msg.data.status ?? 'all';
  const role = msg.data.role ?? null;
  const devices = ctx.registry.list({ state: status, role: role ?? undefined });
  const views = devices.map((d) => toDeviceView(d, ctx.registry.isConnected(d.device_id)));
  conn.send(createAck(msg, { devices: views, count: views.length, filters_applied: { status, role } }, MASTER_ID));
}

export function handleDeviceInfo(msg: Envelope<'device_info', DeviceInfoData>, conn: Connection, ctx: HandlerContext): void {
  const device = ctx.registry.get(msg.data.device_id);
  if (!device) throw new ProtocolError('RC_ERR_NOT_FOUND', `no device with id ${msg.data.device_id}`);
  const recent = ctx.store.recentHeartbeats(device.device_id, RECENT_HEARTBEATS).map((h) => ({
    timestamp: new Date(h.ts_ms).toISOString(),
    metrics: h.metrics,
  }));
  conn.send(
    createAck(msg, { device: toDeviceView(device, ctx.registry.isConnected(device.device_id)), recent_heartbeats: recent }, MASTER_ID),
  );
}
