import { isRcError, ProtocolError } from '../../common/errors.js';
import type { EnrolmentDecision } from '../enrolment.js';
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
  const decision = authorize(msg, deviceId, conn, ctx);
  if (decision === null) return;
  // Stored before the ack that carries it: a secret the master forgot would lock the device out.
  if (decision.issueSecret !== null) ctx.enrolment.enrol(deviceId, decision.issueSecret);
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
      ...(decision.issueSecret === null ? {} : { device_secret: decision.issueSecret }),
    }, MASTER_ID),
  );
}

/**
 * PROTOCOL §4.8. A refused register is answered, logged with the peer
 * address, and the connection closed; nothing is stored. (The error frame
 * is counted in rc_protocol_errors_total by its code.)
 */
function authorize(msg: Envelope<'register', RegisterData>, deviceId: string, conn: Connection, ctx: HandlerContext): EnrolmentDecision | null {
  try {
    return ctx.enrolment.check(deviceId, msg.data.auth);
  } catch (err) {
    if (!isRcError(err) || !err.code.startsWith('RC_ERR_AUTH_')) throw err;
    ctx.log.warn({ peer: conn.remoteAddress, device_id: deviceId, code: err.code, reason: err.message }, 'register refused');
    conn.refuse(err, msg.message_id);
    return null;
  }
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
