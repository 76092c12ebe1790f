import { ProtocolError } from '../../common/errors.js';
import { createAck } from '../../protocol/codec.js';
import { MASTER_ID, PROTOCOL_VERSION, type Envelope, type RegisterData } from '../../protocol/types.js';
import type { Connection } from '../../transport/connection.js';
import { normalizeProfile, protocolMajor } from '../normalize.js';
import type { HandlerContext } from './context.js';

const SUPPORTED_MAJOR = 1;
const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** PROTOCOL §5.1: store the profile, bind the connection, tell the heartbeat interval. */
export function handleRegister(msg: Envelope<'register', RegisterData>, conn: Connection, ctx: HandlerContext): void {
  const data = msg.data;
  const deviceId = data.device_id ?? msg.sender_id;
  checkRegister(deviceId, data, conn);
  const profile = normalizeProfile(data);
  ctx.registry.register(deviceId, profile, conn.remoteAddress);
  ctx.attachDevice(deviceId, conn);
  ctx.tasks.onDeviceRegistered(deviceId, profile.task_types, data.running_tasks ?? []);
  ctx.log.info({ device_id: deviceId, ip: conn.remoteAddress, role: data.role ?? null }, 'device registered');
  conn.send(
    createAck(msg, {
      device_id: deviceId,
      heartbeat_interval: ctx.heartbeatIntervalS,
      protocol_version: PROTOCOL_VERSION,
      message: `device ${deviceId} registered`,
    }, MASTER_ID),
  );
}

function checkRegister(deviceId: string, data: RegisterData, conn: Connection): void {
  if (!DEVICE_ID_PATTERN.test(deviceId)) {
    throw new ProtocolError('RC_ERR_PROTO_SCHEMA', `device id "${deviceId.slice(0, 64)}" must match ${DEVICE_ID_PATTERN.source}`);
  }
  const major = protocolMajor(data.protocol_version);
  if (major > SUPPORTED_MAJOR) {
    throw new ProtocolError('RC_ERR_PROTO_VERSION', `protocol_version ${String(data.protocol_version)} is not supported; this master speaks ${PROTOCOL_VERSION}`);
  }
  if (conn.deviceId !== null && conn.deviceId !== deviceId) {
    throw new ProtocolError('RC_ERR_DEVICE_ID_MISMATCH', `this connection is registered as ${conn.deviceId}, not ${deviceId}`);
  }
}
